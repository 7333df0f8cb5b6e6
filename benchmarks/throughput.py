"""Training throughput of the course's dense and conv autoencoders: aejax vs PyTorch eager vs matmul.

    .venv/bin/python benchmarks/throughput.py                 # ~2-3 min on 2 cores
    .venv/bin/python benchmarks/throughput.py --quick         # ~30 s smoke run
    .venv/bin/python benchmarks/throughput.py --json out.json # also write every timing as JSON
    .venv/bin/python benchmarks/throughput.py --no-torch      # aejax + matmul only
    .venv/bin/python benchmarks/throughput.py --models conv --batch 128 --steps  # the conv model alone

What is timed, per round (rounds interleave every contender so machine load,
which is shared and noisy here, hits them alike):

- **aejax**: the epoch program exactly as ``aejax run`` trains it
  (``aejax.train.step.Trainer.epoch``: batches gathered on the device, the
  experiment's Adam and loss, per-epoch shuffle, metrics; one compiled
  ``lax.scan`` or, where the experiment sets ``train.scan_epoch=false``, a
  Python loop over the compiled step), model, task and trainer built by
  ``aejax.run.builder.build`` from ``experiments/mnist_dense.py`` /
  ``experiments/mnist_conv.py`` at batch 256 (``--batch``); ``--steps`` adds
  each model's other epoch path. The images are synthetic (uniform in [0, 1)).
  One whole epoch is timed after compilation, blocking on the result.
- **torch**: an eager PyTorch loop over the same architectures (``torch.nn``,
  NCHW for the conv model), the data already in memory as a tensor, shuffled
  every epoch with ``torch.randperm``, the experiment's loss (``F.mse_loss`` for the dense model,
  ``F.binary_cross_entropy`` on the sigmoid output for the conv model), ``torch.optim.Adam``
  (lr 1e-3) in two flavours: PyTorch's default CPU Adam and ``fused=True``;
  the faster of the two is the reference for the ratio. Kernels are initialised
  like Flax's defaults (truncated-normal LeCun, zero biases).
  ``torch.set_num_threads(<cores available to this process>)``, and
  ``OMP_WAIT_POLICY=PASSIVE`` (unless already set, or ``--omp-active``): on this
  shared 2-core machine, under load, OpenMP's default spin-waiting made PyTorch
  eager 4-8x slower (dense 1.1-2.3k samples/s with 2 spinning threads vs 8-9k
  passive, 9-10k with 1 thread), which would flatter aejax.
- **allocator**: the process runs with the allocator settings ``aejax run`` makes
  (``aejax.jaxsetup.tune_malloc``: glibc keeps freed scratch mapped), for every
  contender alike (PyTorch's loop runs in the same process); ``--malloc glibc``
  leaves glibc's defaults.
- **matmul**: numpy fp32 ``(2048 x 2048) @ (2048 x 2048)``, 2 * 2048^3 FLOP.
- **dense matmuls** (with the dense model): numpy doing exactly the dense model's
  training matmuls at its shapes and batch, nothing else (per batch: each layer's
  forward product, weight gradient ``h.T @ g`` and input gradient ``g @ W.T``, none
  for the first layer's input), on the same number of samples as the aejax epoch:
  what OpenBLAS reaches on the model's own products (a ``[256, 100] x [100, 200]``
  product runs far below a 2048^3 one). Printed as a second roofline for the dense
  model, beside the 2048^3 one.

FLOP counts (analytic, per training sample), forward FLOPs F = sum over layers
of 2 * (multiply-adds): dense 2 * in * out; conv 2 * H_out * W_out * k * k * C_in
* C_out ('same' padding). Training = forward + gradient w.r.t. weights (F) +
gradient w.r.t. layer inputs (F, except for the first layer, whose input needs
none): ``train = 3 F - F_first``. Elementwise work (activations, pooling,
Adam) is not counted. The plain "3 x forward" figure is printed beside it, and
XLA's own count (``compiled.cost_analysis()['flops']`` of the epoch program,
whose scan body XLA counts once, i.e. one batch) as a cross-check.
Percent of roofline = achieved GFLOP/s / numpy matmul GFLOP/s of the same run;
for the dense model also / numpy's GFLOP/s on the model's own matmuls ("% model
matmuls").
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

BATCH = 256
BLAS_IDLE_S = 1.0  # pause after the numpy matmul, until OpenBLAS's spinning threads sleep
IMAGE = (28, 28, 1)


# -- FLOP counts ---------------------------------------------------------------------------
def dense_forward_flops(sizes) -> list[int]:
    """Per-layer forward FLOPs of a dense stack ``sizes`` = (784, 400, ..., 784), per sample."""
    return [2 * a * b for a, b in zip(sizes[:-1], sizes[1:])]


def conv_forward_flops(layers) -> list[int]:
    """Per-layer forward FLOPs of 'same' convolutions ``(H_out, W_out, k, C_in, C_out)``, per sample."""
    return [2 * h * w * k * k * cin * cout for h, w, k, cin, cout in layers]


def train_flops(forward: list[int]) -> int:
    """Forward + weight gradients + input gradients (none for the first layer): 3 F - F_first."""
    return 3 * sum(forward) - forward[0]


def course_conv_layers(model_cfg: dict) -> list[tuple[int, int, int, int, int]]:
    """(H_out, W_out, k, C_in, C_out) of each convolution of the course conv AE (28x28x1 input)."""
    h, w, c = IMAGE
    layers = []
    for ch, k in model_cfg["encoder"]:
        layers.append((h, w, k, c, ch))
        c, h, w = ch, -(-h // 2), -(-w // 2)  # max-pool 2, 'same'
    for ch, k in model_cfg["decoder"]:
        layers.append((h, w, k, c, ch))
        c, h, w = ch, 2 * h, 2 * w  # upsample 2
    layers.append((IMAGE[0], IMAGE[1], model_cfg["output_kernel"], c, IMAGE[2]))
    return layers


# -- contenders ----------------------------------------------------------------------------
def matmul_seconds(a: np.ndarray, b: np.ndarray) -> float:
    """Seconds for one numpy ``a @ b``."""
    t = time.perf_counter()
    a @ b
    return time.perf_counter() - t


class DenseMatmuls:
    """numpy fp32 doing the dense model's training matmuls (``sizes`` = 784, ..., 784) on ``n`` samples."""

    def __init__(self, sizes, n: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.w = [rng.standard_normal((a, b), np.float32) * 0.05 for a, b in zip(sizes[:-1], sizes[1:])]
        self.x = rng.random((n // BATCH, BATCH, sizes[0]), np.float32)  # the ragged last batch dropped
        self.h = [np.empty((BATCH, b), np.float32) for b in sizes[1:]]  # layer outputs
        self.gw = [np.empty_like(w) for w in self.w]  # weight gradients
        self.gx = [np.empty((BATCH, a), np.float32) for a in sizes[1:-1]]  # input gradients of layers 1..
        self.samples = self.x.shape[0] * BATCH
        self.run()

    def run(self) -> float:
        """Seconds for the products of one epoch (written into preallocated arrays)."""
        w, h, gw, gx = self.w, self.h, self.gw, self.gx
        t0 = time.perf_counter()
        for x in self.x:
            inputs = [x, *h[:-1]]
            for i, wi in enumerate(w):
                np.matmul(inputs[i], wi, out=h[i])
            g = h[-1]  # stands for the output's gradient (the same shape)
            for i in reversed(range(len(w))):
                np.matmul(inputs[i].T, g, out=gw[i])
                if i:
                    np.matmul(g, w[i].T, out=gx[i - 1])
                    g = gx[i - 1]
        return time.perf_counter() - t0


class JaxEpoch:
    """aejax's own Trainer epoch for one experiment's model at batch BATCH on ``n`` synthetic images.

    The model, task and trainer come from :func:`aejax.run.builder.build` on the experiment's
    config with ``train.batch_size=BATCH`` and ``train.scan_epoch`` = ``scan`` (None: the
    experiment's own; its optimizer and loss); only the data are synthetic.
    """

    def __init__(self, experiment_name: str, n: int, seed: int = 0, scan: bool | None = None):
        import jax
        import jax.numpy as jnp

        from aejax.run import builder, experiment
        from aejax.train.step import init_state

        self.jax, self.jnp = jax, jnp
        cfg = experiment.load(experiment_name).get_config()
        self.scan = cfg["train"]["scan_epoch"] if scan is None else scan  # None: as the experiment trains
        cfg["train"].update(batch_size=BATCH, scan_epoch=self.scan)
        self.model_cfg = cfg["model"]
        built = builder.build(cfg, IMAGE, n, strategy="mesh")
        self.trainer = built.trainer
        rng = np.random.default_rng(seed)
        self.x = self.trainer.put(rng.random((n, *IMAGE), np.float32))  # [n, 28, 28, 1] in [0, 1)
        state, self.keys = init_state(built.task, IMAGE, seed)
        self.state = self.trainer.put_state(state)
        self.samples = (n // BATCH) * BATCH  # the ragged last batch is dropped, as in training
        t0 = time.perf_counter()
        self.trainer.compile_epoch(self.state, self.x, self.keys["data"], self.keys["step"])  # as the engine does
        self.compile_s = time.perf_counter() - t0
        self.xla_flops_per_sample = None
        compiled = self.trainer._epoch if self.scan else self.trainer._step
        if hasattr(compiled, "cost_analysis"):  # the Compiled epoch (scan) or step (a batch either way)
            ca = compiled.cost_analysis()
            ca = ca[0] if isinstance(ca, list) else ca
            # XLA counts the scan body once: its flops are one batch's.
            self.xla_flops_per_sample = float(ca["flops"]) / BATCH if ca and "flops" in ca else None
        self.epoch_i = 0
        self.run()  # first execution (allocations) is not timed

    def run(self) -> float:
        """Seconds for one whole epoch, blocking on the new state and metrics."""
        t0 = time.perf_counter()
        self.state, metrics = self.trainer.epoch(self.state, self.x, self.keys["data"], self.keys["step"],
                                                 self.epoch_i)
        self.jax.block_until_ready((self.state, metrics))
        self.epoch_i += 1
        return time.perf_counter() - t0


class TorchEpoch:
    """An eager PyTorch training epoch of the same architecture (``kind`` 'dense' or 'conv')."""

    def __init__(self, kind: str, model_cfg: dict, n: int, fused: bool, seed: int = 0, loss: str = "mse"):
        import torch
        from torch import nn

        self.torch = torch
        g = torch.Generator().manual_seed(seed)
        if kind == "dense":
            sizes = [int(np.prod(IMAGE)), *model_cfg["hidden"], model_cfg["latent_dim"],
                     *reversed(model_cfg["hidden"]), int(np.prod(IMAGE))]
            layers: list = []
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(nn.Linear(a, b))
                last = i == len(sizes) - 2
                if last:
                    layers.append(nn.Sigmoid())
                elif i != len(model_cfg["hidden"]):  # the code layer is linear
                    layers.append(nn.ReLU())
            self.model = nn.Sequential(*layers)
            self.x = torch.rand(n, sizes[0], generator=g)  # [n, 784]
        else:
            layers, c = [], IMAGE[2]
            for ch, k in model_cfg["encoder"]:
                layers += [nn.Conv2d(c, ch, k, padding="same"), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
                c = ch
            for ch, k in model_cfg["decoder"]:
                layers += [nn.Conv2d(c, ch, k, padding="same"), nn.ReLU(), nn.Upsample(scale_factor=2)]
                c = ch
            k = model_cfg["output_kernel"]
            layers += [nn.Conv2d(c, IMAGE[2], k, padding="same"), nn.Sigmoid()]
            self.model = nn.Sequential(*layers)
            self.x = torch.rand(n, IMAGE[2], IMAGE[0], IMAGE[1], generator=g)  # [n, 1, 28, 28] NCHW
        with torch.no_grad():  # Flax's defaults: LeCun truncated normal kernels, zero biases
            for m in self.model.modules():
                if isinstance(m, (nn.Linear, nn.Conv2d)):
                    fan_in = m.weight[0].numel()
                    nn.init.trunc_normal_(m.weight, std=(1.0 / fan_in) ** 0.5 / 0.87962566, a=-2 * fan_in ** -0.5
                                          / 0.87962566, b=2 * fan_in ** -0.5 / 0.87962566, generator=g)
                    nn.init.zeros_(m.bias)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, fused=fused or None)
        self.gen = g
        self.loss = {"mse": torch.nn.functional.mse_loss, "bce": torch.nn.functional.binary_cross_entropy}[loss]
        self.n = n
        self.samples = (n // BATCH) * BATCH
        self.run()  # warm-up epoch (allocator, oneDNN primitive caches)

    def run(self) -> float:
        """Seconds for one whole epoch (shuffle, then every full batch)."""
        torch = self.torch
        t0 = time.perf_counter()
        perm = torch.randperm(self.n, generator=self.gen)
        for i in range(self.n // BATCH):
            xb = self.x[perm[i * BATCH:(i + 1) * BATCH]]
            loss = self.loss(self.model(xb), xb)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        loss.item()  # eager: already computed; keeps the loop honest
        return time.perf_counter() - t0


# -- driver --------------------------------------------------------------------------------
def machine_info() -> dict:
    """Date, host, CPU model, cores and library versions for the results."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import jax
    info = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "host": platform.node(), "cpu": cpu, "cores": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "numpy": np.__version__, "jax": jax.__version__}
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        pass
    return info


def main(argv=None) -> int:
    """Run the interleaved measurement; print a table; optionally write JSON."""
    global BATCH
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small epochs, 3 rounds (~30 s)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 7, --quick 3)")
    p.add_argument("--json", metavar="OUT", help="write all timings and results to this JSON file")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch contenders")
    p.add_argument("--omp-active", action="store_true",
                   help="leave OpenMP's default (spinning) wait policy for PyTorch's threads")
    p.add_argument("--batch", type=int, default=BATCH, help="training batch size (default %(default)s)")
    p.add_argument("--models", default="dense,conv", help="which course models: dense, conv or both (default)")
    p.add_argument("--steps", action="store_true",
                   help="diagnostic: also time each model's other epoch path (a lax.scan or a Python "
                        "loop over the jitted step; the experiment's own is train.scan_epoch)")
    p.add_argument("--malloc", choices=("aejax", "glibc"), default="aejax",
                   help="aejax: the allocator settings `aejax run` makes (jaxsetup.tune_malloc), for the whole "
                        "process; glibc: its defaults (default %(default)s)")
    args = p.parse_args(argv)
    if args.malloc == "aejax":
        from aejax import jaxsetup
        malloc = "aejax (tune_malloc)" if jaxsetup.tune_malloc() else "unchanged (tune_malloc declined)"
    else:
        malloc = "glibc defaults"
    print(f"allocator: {malloc}", flush=True)
    BATCH = args.batch
    kinds = [k for k in ("dense", "conv") if k in args.models.split(",")]

    rounds = args.rounds or (3 if args.quick else 7)
    n_dense = BATCH * (20 if args.quick else 100)  # samples per timed epoch
    n_conv = 3072 * (1 if args.quick else 2)  # samples per timed conv epoch (24-48 batches of 128)
    cores = len(os.sched_getaffinity(0))
    load_start = os.getloadavg()

    from aejax.run import experiment
    dense_full, conv_full = (experiment.load(f"mnist_{k}").get_config() for k in ("dense", "conv"))
    dense_cfg, conv_cfg = dense_full["model"], conv_full["model"]
    losses = {"dense": dense_full["train"]["loss"], "conv": conv_full["train"]["loss"]}
    dense_sizes = [784, *dense_cfg["hidden"], dense_cfg["latent_dim"], *reversed(dense_cfg["hidden"]), 784]
    fwd = {"dense": dense_forward_flops(dense_sizes), "conv": conv_forward_flops(course_conv_layers(conv_cfg))}
    flops = {k: train_flops(v) for k, v in fwd.items()}

    print(f"building aejax epochs (dense {n_dense} / conv {n_conv} samples per epoch, batch {BATCH}) ...",
          flush=True)
    n_of = {"dense": n_dense, "conv": n_conv}
    contenders = {f"aejax {k}": JaxEpoch(f"mnist_{k}", n_of[k]) for k in kinds}
    dense_matmuls = DenseMatmuls(dense_sizes, n_dense) if "dense" in kinds else None  # numpy, as the matmul
    numpy_runs = ["matmul"] + (["numpy dense-matmuls"] if dense_matmuls else [])  # a pause after each
    if args.steps:  # the other epoch path of each model
        for k in kinds:
            other = not contenders[f"aejax {k}"].scan
            contenders[f"aejax-{'scan' if other else 'step'} {k}"] = JaxEpoch(f"mnist_{k}", n_of[k], scan=other)
    if not args.no_torch:
        if not args.omp_active:
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch's OpenMP starts
        import torch
        torch.set_num_threads(cores)
        print(f"torch {torch.__version__}: torch.set_num_threads({cores}) (cores available to this process), "
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default: spin)')}", flush=True)
        for kind in kinds:
            cfg, loss = {"dense": dense_cfg, "conv": conv_cfg}[kind], losses[kind]
            contenders[f"torch {kind}"] = TorchEpoch(kind, cfg, n_of[kind], fused=False, loss=loss)
            contenders[f"torch-fused {kind}"] = TorchEpoch(kind, cfg, n_of[kind], fused=True, loss=loss)
    a = np.random.default_rng(0).random((2048, 2048), np.float32)
    b = np.random.default_rng(1).random((2048, 2048), np.float32)
    matmul_seconds(a, b)  # warm-up

    times: dict[str, list[float]] = {k: [] for k in (*numpy_runs, *contenders)}
    order = [*numpy_runs, *[k for k in contenders if k.endswith("dense")],
             *[k for k in contenders if k.endswith("conv")]]
    for r in range(rounds):
        for name in order:
            if name == "matmul":
                times[name] += [matmul_seconds(a, b) for _ in range(3)]
            elif name == "numpy dense-matmuls":
                times[name].append(dense_matmuls.run())
            else:
                times[name].append(contenders[name].run())
            if name in numpy_runs:
                # OpenBLAS's threads spin for a while after a call: on 2 cores they would take one
                # from the next contender (measured: the conv epoch 5.3k samples/s right after, 6.7k with the pause).
                time.sleep(BLAS_IDLE_S)
        print(f"round {r + 1}/{rounds}: " + "  ".join(
            f"{k}={times[k][-1]:.3f}s" for k in order), flush=True)
    load_end = os.getloadavg()

    matmul_gflops = 2 * 2048 ** 3 / statistics.median(times["matmul"]) / 1e9
    results = {"matmul": {"gflops": matmul_gflops, "median_s": statistics.median(times["matmul"])}}
    model_gflops = {}  # kind -> GFLOP/s numpy reaches on that model's own training matmuls
    if dense_matmuls:
        med = statistics.median(times["numpy dense-matmuls"])
        model_gflops["dense"] = dense_matmuls.samples * flops["dense"] / med / 1e9
        results["numpy dense-matmuls"] = {"median_epoch_s": med, "samples_per_epoch": dense_matmuls.samples,
                                          "gflops": model_gflops["dense"],
                                          "pct_matmul": 100 * model_gflops["dense"] / matmul_gflops}
    for name, c in contenders.items():
        kind = name.split()[-1]
        med = statistics.median(times[name])
        sps = c.samples / med
        results[name] = {"samples_per_s": sps, "median_epoch_s": med, "samples_per_epoch": c.samples,
                         "gflops": sps * flops[kind] / 1e9,
                         "pct_matmul": 100 * sps * flops[kind] / 1e9 / matmul_gflops}
        if kind in model_gflops:
            results[name]["pct_model_matmuls"] = 100 * sps * flops[kind] / 1e9 / model_gflops[kind]
        if isinstance(c, JaxEpoch):
            results[name]["compile_s"] = c.compile_s
            results[name]["xla_flops_per_sample"] = c.xla_flops_per_sample

    print()
    print(f"numpy fp32 matmul 2048^3: {matmul_gflops:.1f} GFLOP/s (median of {len(times['matmul'])})")
    for kind in kinds:
        print(f"{kind}: analytic training FLOP/sample = 3*F - F_first = {flops[kind] / 1e6:.3f} M "
              f"(forward F = {sum(fwd[kind]) / 1e6:.3f} M; plain 3*F = {3 * sum(fwd[kind]) / 1e6:.3f} M; "
              f"XLA cost_analysis = {results[f'aejax {kind}']['xla_flops_per_sample'] / 1e6:.3f} M)")
    print()
    if dense_matmuls:
        r = results["numpy dense-matmuls"]
        print(f"numpy dense-matmuls: the dense model's training matmuls alone, in numpy: {r['gflops']:.1f} "
              f"GFLOP/s = {r['pct_matmul']:.1f} % of the 2048^3 matmul")
    print()
    print(f"{'contender':<20} {'samples/s':>10} {'epoch s':>8} {'GFLOP/s':>8} {'% matmul':>8}"
          + (f" {'% model matmuls':>15}" if dense_matmuls else ""))
    for name in contenders:
        r = results[name]
        print(f"{name:<20} {r['samples_per_s']:>10.0f} {r['median_epoch_s']:>8.3f} {r['gflops']:>8.1f} "
              f"{r['pct_matmul']:>7.1f}%" + (f" {r['pct_model_matmuls']:>14.1f}%" if "pct_model_matmuls" in r
                                             else ""))
    ratios = {}
    if not args.no_torch:
        print()
        for kind in kinds:
            jx = results[f"aejax {kind}"]["samples_per_s"]
            best = max(results[f"torch {kind}"]["samples_per_s"], results[f"torch-fused {kind}"]["samples_per_s"])
            ratios[kind] = {"vs_torch_default": jx / results[f"torch {kind}"]["samples_per_s"],
                            "vs_torch_fused": jx / results[f"torch-fused {kind}"]["samples_per_s"],
                            "vs_best_torch": jx / best}
            print(f"{kind}: aejax / torch eager = {ratios[kind]['vs_best_torch']:.2f}x vs the faster torch "
                  f"(default Adam {ratios[kind]['vs_torch_default']:.2f}x, fused Adam "
                  f"{ratios[kind]['vs_torch_fused']:.2f}x)")
    print(f"\nload average (1/5/15 min): start {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, "
          f"end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}; {rounds} interleaved rounds")
    if args.json:
        out = {"machine": machine_info(), "command": " ".join(sys.argv), "rounds": rounds, "batch": BATCH,
               "allocator": malloc,
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
               "load_start": load_start, "load_end": load_end,
               "flops_per_sample": {"formula": "3*F - F_first (F = forward FLOPs, 2 per multiply-add)",
                                    **{k: {"train": flops[k], "forward": sum(fwd[k]),
                                           "forward_per_layer": fwd[k]} for k in flops}},
               "times_s": times, "results": results, "ratios": ratios}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
