"""Every (m, seed) model of a bottleneck sweep trained in ONE compiled program.

The 101 -> m -> 101 networks are tiny: one of them alone is bound by per-step
overhead, and 33 of them run one after the other (11 m x 3 seeds) spend most
of their time compiling, starting and stepping. Here the whole sweep is one
program: one ``lax.scan`` over the batches whose body runs, for every m,
:func:`aejax.train.step.train_step` under ``jax.vmap`` over the seeds (each
seed has its own data split, keys and batches); an m whose seeds have all
stopped early is skipped (``lax.cond``), not just masked. Models share nothing
but the program: each has its own parameters and Adam state, and the
gradient of the summed losses with respect to one model's parameters is that
model's own gradient.

Each model gets exactly what ``aejax run`` gives it (a test checks the
numbers against the engine to float tolerance):

- initial state and keys from :func:`aejax.train.step.init_program` of its
  seed (the engine's ``init_state``, vmapped over the seeds);
- the engine's batches, :meth:`aejax.train.step.Trainer.batch_indices` of
  its seed's data key and the epoch (so all m of one seed see the same batches,
  as their separate runs would);
- the engine's early stopping (``train.patience`` on ``val/loss``, strict
  improvement) and best-validation checkpoint; a model that stops is frozen
  (its updates are masked) while the others go on.

Each model's run directory gets the full run contract (config.json,
metrics.jsonl, summary.json, checkpoints/latest + best, analysis/, figures/,
report.html) plus the column numbers of
:func:`aejax.bottleneck.evaluate.run_outputs`, written as soon as every seed
of its m has stopped, while the other models train: the numbers on two
worker threads, the figures on the main thread while the device runs the
next epoch. Runs whose ``summary.json`` exists are skipped; the unfinished
ones of a group restart from epoch 0 (runs in a group have no periodic
checkpoints). Timing fields in ``summary.json`` are the group's: ``train_s``
is the wall time of the epochs the model was active, ``wall_s`` the time
from the start of the sweep to its files, ``group_models`` the number of
models in the program.

Limits: ``data.noise_std`` must be 0 and ``train.strategy`` is ignored (one
device). Configurations that differ in anything but ``seed`` and
``model.latent_dim`` go to separate groups.
"""
from __future__ import annotations

import collections
import functools
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from aejax.errors import UserError

GROUPED_KEYS = ("seed", "model.latent_dim")


def group_key(cfg: Mapping) -> str:
    """Configs with equal keys train in one program (all but seed and latent_dim equal)."""
    from aejax.config import flatten
    return json.dumps({k: v for k, v in flatten(cfg).items() if k not in GROUPED_KEYS}, sort_keys=True)


def run_sweep(exp, configs: Sequence[Mapping], *, sweep_dir: Path, overrides: Sequence[str],
              quick: bool) -> None:
    """``run_sweep_group`` hook: train the unfinished configurations, grouped."""
    from aejax import runner
    from aejax.sweep import run_name
    try:
        from aejax import jaxsetup
        jaxsetup.configure()
    except ImportError:  # pragma: no cover - older engines
        pass
    t_start = time.perf_counter()
    groups: dict[str, list] = {}
    skipped = 0
    for c in configs:
        run_dir = Path(sweep_dir) / run_name(c)
        if (run_dir / "summary.json").exists():
            skipped += 1
            continue
        cfg = runner.resolve_config(exp, list(overrides) + [f"{k}={json.dumps(v)}" for k, v in c.items()],
                                    quick)
        groups.setdefault(group_key(cfg), []).append((cfg, run_dir))
    trained = sum(len(g) for g in groups.values())
    print(f"sweep {sweep_dir}: {trained} runs to train in {len(groups)} program(s), "
          f"{skipped} finished runs skipped", flush=True)
    for members in groups.values():
        train_group(exp, [c for c, _ in members], [d for _, d in members], t_start=t_start)


def train_group(exp, cfgs: Sequence[Mapping], run_dirs: Sequence[Path] | None, *,
                t_start: float | None = None, verbose: bool = True) -> list[dict]:
    """Train the runs ``cfgs`` (equal but for seed / latent_dim) together; write their run dirs.

    Returns the summaries written. With ``run_dirs=None`` nothing is written and
    the summaries hold only the numbers (benchmarks/seismic_centering.py):
    ``model.latent_dim``, ``seed``, ``epochs_run``, ``best_epoch``, ``test/*``,
    ``test/pca_mse``, ``train/mse``, ``train/pca_mse``, ``code/dead_units``.
    """
    from aejax import models, runner
    from aejax.bottleneck import evaluate
    from aejax.train.fit import new_loop, not_finite, record_epoch
    from aejax.train.step import RUN_ONCE, Task, Trainer, batch_step, init_program, optimizer_from_config
    from aejax.train.vectorized import select

    t_start = time.perf_counter() if t_start is None else t_start
    t_group = time.perf_counter()
    cfg0 = cfgs[0]
    t, d = cfg0["train"], cfg0["data"]
    if float(d["noise_std"]) > 0:
        raise UserError("data.noise_std > 0: the grouped bottleneck sweep trains plain autoencoders; "
                        "set it to 0 or run the configurations with 'aejax run'")
    seeds = sorted({int(c["seed"]) for c in cfgs})
    ms = sorted({int(c["model"]["latent_dim"]) for c in cfgs})
    write = run_dirs is not None
    run_dirs = list(run_dirs) if write else [None] * len(cfgs)
    todo = {(int(c["model"]["latent_dim"]), int(c["seed"])): (c, rd) for c, rd in zip(cfgs, run_dirs)}
    for c, rd in zip(cfgs, run_dirs):      # unfinished runs restart from epoch 0
        if write:
            runner.prepare_workdir(rd, c, overwrite=True)

    # Data: each seed's own split, through the experiment's prepare_data.
    sources, datasets = {}, {}
    for s in seeds:
        cfg_s = next(c for c in cfgs if int(c["seed"]) == s)
        sources[s] = evaluate.load_source(cfg_s)
        datasets[s] = exp.prepare_data(sources[s], cfg_s) if hasattr(exp, "prepare_data") else sources[s]
    shapes = {s: tuple(len(getattr(datasets[s], k)) for k in ("train", "val", "test")) for s in seeds}
    if len(set(shapes.values())) > 1:
        raise UserError(f"seeds {seeds}: their splits differ in size ({shapes}); the grouped sweep "
                        "needs equal sizes")
    ds0 = datasets[seeds[0]]
    example_shape = ds0.example_shape
    n_train = len(ds0.train)
    if n_train < t["batch_size"]:
        raise UserError(f"train.batch_size={t['batch_size']} is larger than the {n_train} training examples")
    x_train = jnp.asarray(np.stack([datasets[s].train.x for s in seeds]))   # [S, N, ...]
    x_val = jnp.asarray(np.stack([datasets[s].val.x for s in seeds]))       # [S, Nv, ...]
    x_test = jnp.asarray(np.stack([datasets[s].test.x for s in seeds]))     # [S, Nt, ...]

    # Models, one Task per m (same optimizer settings as the engine).
    try:
        tasks = [Task(models.build({**cfg0["model"], "latent_dim": m}, example_shape),
                      optimizer_from_config(t, n_train // t["batch_size"]),
                      t["loss"], 0.0) for m in ms]
        batcher = Trainer(tasks[0], t["batch_size"], t["eval_batch_size"], "mesh", devices=jax.devices()[:1])
    except ValueError as e:
        raise UserError(str(e)) from None
    n_s, n_m = len(seeds), len(ms)

    def init_all(seed):
        return [init_program(task, example_shape)(seed) for task in tasks]

    seeds_arr = jnp.asarray(seeds, jnp.uint32)
    inits = jax.jit(jax.vmap(init_all)).lower(seeds_arr).compile(compiler_options=RUN_ONCE)(seeds_arr)
    states = [st for st, _ in inits]                 # list over m of TrainState, leaves [S, ...]
    keys = inits[0][1]                               # the same for every m: {data, step, eval} [S]

    def epoch_fn(states, x, idx, step_keys, active):
        # states: list over m of TrainState [S, ...]; x [S, N, ...]; idx [S, nb, B]; active [S, M].
        running = active.any(axis=0)                 # [M]: an m whose seeds all stopped is skipped

        def body(sts, idx_b):                        # idx_b [S, B]
            clean = jax.vmap(lambda xs, ib: xs[ib])(x, idx_b)          # [S, B, ...]
            new, mets = [], []
            for j, (task, st) in enumerate(zip(tasks, sts)):
                def run(st, task=task):
                    return jax.vmap(functools.partial(batch_step, task))(st, clean, step_keys)

                def skip(st, run=run):
                    shapes = jax.eval_shape(run, st)[1]
                    return st, jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), shapes)
                st, met = jax.lax.cond(running[j], run, skip, st)
                new.append(st)
                mets.append(met)
            return new, mets

        new, mets = jax.lax.scan(body, states, jnp.swapaxes(idx, 0, 1))  # over the nb batches
        mets = [jax.tree.map(lambda a: a.mean(axis=0), m) for m in mets]  # {metric: [S]}
        new = [select(active[:, j], n, o) for j, (n, o) in enumerate(zip(new, states))]
        return new, mets

    def eval_fn(params, x, eval_keys):
        def per_seed(p_s, x_s, k_s):
            return [jax.tree.map(jnp.mean, task.objective(p, x_s, x_s, k_s)[1]) for task, p in zip(tasks, p_s)]
        return jax.vmap(per_seed)(params, x, eval_keys)

    def best_fn(mask, new, old):
        return [select(mask[:, j], n, o) for j, (n, o) in enumerate(zip(new, old))]

    epoch_c = jax.jit(epoch_fn, donate_argnums=0)
    eval_c = jax.jit(eval_fn)
    best_c = jax.jit(best_fn, donate_argnums=2)
    finals = {}                                      # j -> compiled end-of-training program of m

    nb = n_train // t["batch_size"]
    active = np.array([[(m, s) in todo for j, m in enumerate(ms)] for s in seeds])  # [S, M]
    loops = {(m, s): new_loop() for (m, s) in todo}
    rows = {k: [] for k in todo}
    best_states = jax.tree.map(jnp.copy, states)
    setup_s = time.perf_counter() - t_group
    patience, epochs = int(t["patience"]), int(t["epochs"])
    if verbose:
        print(f"  group: m={ms} x seeds={seeds} ({len(todo)} models, {nb} steps of {t['batch_size']} "
              f"per epoch), setup {setup_s:.1f} s", flush=True)

    # Runs are written as soon as every seed of their m has stopped, while the others
    # train: the numbers (checkpoints, PCA, classifier) by two worker threads, the
    # figures by this thread while the device runs the next epoch.
    out = Output(write, seeds, cfgs, datasets, sources, verbose)
    timing = {"t_start": t_start, "setup_s": setup_s, "first_epoch_s": 0.0, "nb": nb, "group_models": len(todo)}
    done_m: set = set()

    def finish_m(j):
        """The end of training for every seed of m = ms[j]: test numbers, then its runs' files."""
        done_m.add(j)
        if j not in finals:
            finals[j] = jax.jit(jax.vmap(functools.partial(_final, tasks[j])))
        codes, recon, test_m, train_m = jax.device_get(finals[j](best_states[j].params, x_test, x_train,
                                                                 keys["eval"]))
        for i, s in enumerate(seeds):
            if (ms[j], s) in todo:
                cfg, run_dir = todo[(ms[j], s)]
                out.submit(cfg, run_dir, ms[j], s, rows[(ms[j], s)], loops[(ms[j], s)],
                           jax.device_get(jax.tree.map(lambda a: a[i], states[j])),
                           jax.device_get(jax.tree.map(lambda a: a[i], best_states[j])),
                           {k: float(v[i]) for k, v in test_m.items()}, float(train_m["mse"][i]),
                           recon[i], codes[i], timing)

    try:
        for epoch in range(1, epochs + 1):
            if not active.any():
                break
            t0 = time.perf_counter()
            idx = np.stack([batcher.batch_indices(keys["data"][i], epoch, n_train) for i in range(n_s)])
            states, train_m = epoch_c(states, x_train, jnp.asarray(idx), keys["step"], jnp.asarray(active))
            val_m = eval_c([st.params for st in states], x_val, keys["eval"])
            out.draw_one()                               # while the device trains
            train_m, val_m, steps = jax.device_get((train_m, val_m, [st.step for st in states]))
            epoch_s = time.perf_counter() - t0
            timing["first_epoch_s"] = timing["first_epoch_s"] or epoch_s
            improved = np.zeros_like(active)
            for j, m in enumerate(ms):
                for i, s in enumerate(seeds):
                    if active[i, j]:
                        tm = {k: float(v[i]) for k, v in train_m[j].items()}
                        vm = {k: float(v[i]) for k, v in val_m[j].items()}
                        row, outcome = record_epoch(loops[(m, s)], epoch, steps[j][i], tm, vm, epoch_s,
                                                    patience=patience, samples=nb * t["batch_size"])
                        rows[(m, s)].append(row)
                        if outcome == "diverged":
                            loops[(m, s)]["stopped"] = (f"diverged: {not_finite(epoch, tm, vm)}; "
                                                        "try a lower train.learning_rate")
                        improved[i, j] = outcome == "improved"
                        active[i, j] = not loops[(m, s)]["stopped"]
            if improved.any():
                best_states = best_c(jnp.asarray(improved), states, best_states)
            for j in range(n_m):
                if j not in done_m and not active[:, j].any():
                    finish_m(j)
            if verbose and (epoch % 25 == 0 or not active.any()):
                print(f"  epoch {epoch}: {int(active.sum())} of {len(todo)} models still training "
                      f"({epoch_s * 1000:.0f} ms/epoch, {time.perf_counter() - t_group:.0f} s)", flush=True)
        for j in range(n_m):                             # train.epochs reached
            if j not in done_m:
                finish_m(j)
        results = out.close()
    finally:
        out.shutdown()
    if verbose:
        print(f"  group done: {len(results)} runs, {time.perf_counter() - t_group:.0f} s "
              f"(setup {setup_s:.0f} s)", flush=True)
    return results


def _final(task, params, x_test, x_train, key):
    """One seed's end of training: test codes and reconstructions, test and training metrics."""
    z = task.model.apply({"params": params}, x_test, method="encode")
    recon = task.model.apply({"params": params}, z, method="decode")
    mean = lambda x: jax.tree.map(jnp.mean, task.objective(params, x, x, key)[1])  # noqa: E731
    return z, recon, mean(x_test), mean(x_train)


class Output:
    """Writes finished runs: numbers on two worker threads, figures on the caller's thread.

    What runs of one seed share (PCA fit, classifier) is made first, on its own
    thread, while training goes on; a run's numbers wait for it.
    """

    def __init__(self, write: bool, seeds, cfgs, datasets, sources, verbose: bool):
        from aejax.bottleneck import evaluate
        self.write, self.datasets, self.sources, self.verbose = write, datasets, sources, verbose
        self.cache: dict = {}
        self.figure_cache: dict = {}
        self.lock = threading.Lock()                 # orbax saves from two threads at once collide
        self.workers = ThreadPoolExecutor(max_workers=2)
        self.seed_worker = ThreadPoolExecutor(max_workers=1)
        self.seed_ready = {s: self.seed_worker.submit(
            evaluate.seed_cache if write else _pca_only, self.cache,
            next(c for c in cfgs if int(c["seed"]) == s), datasets[s], sources[s]) for s in seeds}
        self.pending: collections.deque = collections.deque()
        self.results: list = []

    def submit(self, cfg, run_dir, m, seed, rows, loop, state, best_state, test, train_mse, recon, codes,
               timing) -> None:
        """Queue one finished model (host copies of its states and test outputs)."""
        if loop["stopped"].startswith("diverged"):
            if self.write:
                _write_rows(run_dir, rows)
            print(f"aejax: m={m}, seed={seed}: {loop['stopped']}", file=sys.stderr)
            return
        ds, source, ready = self.datasets[seed], self.sources[seed], self.seed_ready[seed]
        if not self.write:
            fut = self.workers.submit(_numbers, m, seed, loop, test, train_mse, codes, ds, ready)
        else:
            fut = self.workers.submit(_write_numbers, cfg, run_dir, ds, source, rows, loop, state, best_state,
                                      test, recon, codes, train_mse, self.cache, ready, self.lock, dict(timing))
        self.pending.append((fut, cfg, run_dir))

    def draw_one(self) -> None:
        """Figures of the oldest run whose numbers are written, if any (never waits)."""
        if self.pending and self.pending[0][0].done():
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        fut, cfg, run_dir = self.pending.popleft()
        summary, examples = fut.result()
        if self.write:
            _write_figures(cfg, run_dir, summary, examples, self.figure_cache)
        self.results.append(summary)

    def close(self) -> list[dict]:
        """Wait for every queued run; returns their summaries."""
        while self.pending:
            self._finish_oldest()
        return self.results

    def shutdown(self) -> None:
        """Stop the threads (after close, or on an error)."""
        self.workers.shutdown(wait=True, cancel_futures=True)
        self.seed_worker.shutdown(wait=True, cancel_futures=True)


def _pca_only(cache: dict, cfg: Mapping, ds, source) -> dict:
    """The numbers-only path's per-seed cache: the PCA fit."""
    from aejax.bottleneck.evaluate import PCAFit
    cache[cfg["seed"]] = {"pca": PCAFit(ds.train.x, ds.test.x)}
    return cache[cfg["seed"]]


def _numbers(m, seed, loop, test, train_mse, codes, ds, ready) -> tuple[dict, dict]:
    """One model's numbers without any file (``run_dirs=None``)."""
    pca = ready.result()["pca"]
    k = min(m, ds.train.x.shape[1])
    return ({"model.latent_dim": m, "seed": seed, "epochs_run": loop["epoch"], "best_epoch": loop["best_epoch"],
             **{f"test/{name}": v for name, v in test.items()}, "test/pca_mse": float(pca.test_mse[k]),
             "train/pca_mse": float(pca.train_mse[k]), "train/mse": train_mse,
             "code/dead_units": int(np.sum(np.all(codes <= 0, axis=0)))}, {})


def _write_rows(run_dir: Path, rows: list) -> None:
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _write_numbers(cfg, run_dir: Path, ds, source, rows, loop, state, best_state, test, test_recon,
                   test_codes, train_mse, clf_cache, ready, lock, timing) -> tuple[dict, dict]:
    """One model's run directory but its figures and summary.json, as ``aejax run`` writes
    it; thread-safe once :func:`aejax.bottleneck.evaluate.seed_cache` holds its seed.
    -> (summary, examples)."""
    from aejax import runner
    from aejax.bottleneck import evaluate
    from aejax.train.checkpoint import Checkpoints

    ready.result()                    # the seed's PCA fit and classifier
    _write_rows(run_dir, rows)
    with lock:                        # orbax saves from two threads at once collide
        ckpt = Checkpoints(run_dir / "checkpoints")
        try:
            ckpt.save("latest", loop["epoch"], state, loop)
            ckpt.save("best", loop["best_epoch"], best_state, loop)
        finally:
            ckpt.close()
    n_params = int(sum(np.size(p) for p in jax.tree.leaves(best_state.params)))
    nb = timing["nb"]
    summary = runner.make_summary(ds, loop, test, n_params=n_params, wall_s=None,  # set when the files are complete
                                  train_s=loop["train_s"], setup_s=timing["setup_s"],
                                  first_step_s=timing["setup_s"] + timing["first_epoch_s"] / max(nb, 1),
                                  group_models=timing["group_models"])
    # analysis/examples.npz + latents.npy in runner.save_examples' format.
    k = int(cfg.get("figures", {}).get("examples", 10))
    (run_dir / "analysis").mkdir(exist_ok=True)
    examples = {"test_x": ds.test.x[:k], "test_input": ds.test.x[:k], "test_code": test_codes[:k],
                "test_recon": test_recon[:k], "train_x": ds.train.x[:k], "train_input": ds.train.x[:k]}
    if ds.test.y is not None:
        examples["test_y"] = np.asarray(ds.test.y[:k])
    np.savez(run_dir / "analysis" / "examples.npz", **examples)
    np.save(run_dir / "analysis" / "latents.npy", test_codes.reshape(len(test_codes), -1))
    summary.update(evaluate.run_outputs(cfg=cfg, workdir=run_dir, ds=ds, source=source, test_recon=test_recon,
                                        test_codes=test_codes, train_mse=train_mse,
                                        classifier_cache=clf_cache))
    summary["wall_s"] = round(time.perf_counter() - timing["t_start"], 3)
    return summary, examples


def _write_figures(cfg, run_dir: Path, summary: dict, examples: dict, fig_cache: dict) -> None:
    """summary.json (which marks the run finished, as in the engine), then figures and report."""
    from aejax import runner
    from aejax.bottleneck import figures
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    figures.run_figures(run_dir, shared=fig_cache)
    runner.finish(run_dir, cfg, examples)
