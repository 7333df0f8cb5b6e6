"""Reference VAE in PyTorch, trained exactly like ``aejax run vae_mnist``, and a side-by-side run.

    .venv/bin/python benchmarks/reference_vae_torch.py                   # PyTorch only (~2 min on 2 cores)
    .venv/bin/python benchmarks/reference_vae_torch.py --side-by-side    # also aejax, then both numbers
    .venv/bin/python benchmarks/reference_vae_torch.py --side-by-side --quick   # seconds

Same as ``experiments/vae_mnist.py`` (PyTorch 2.13.0 CPU, ``pip install torch==2.13.0``):

- data: ``aejax.run.builder.load_data`` on vae_mnist's config (``binarized:mnist5k``,
  seed 0) -- the same 3,500 / 500 / 1,000 train / val / test digits, pixels
  binarised at 0.5;
- model: encoder 784 -> Linear 500 -> ReLU -> (Linear 20 = mean, Linear 20 =
  log-variance); decoder 20 -> Linear 500 -> ReLU -> Linear 784 (Bernoulli
  logits); weights drawn like Flax's default (LeCun normal, truncated at 2 std,
  zero biases);
- loss per example: -log p(x|z) summed over pixels + KL(q(z|x) || N(0, I))
  summed over latent units, one reparameterised sample; the batch loss is the
  mean over examples (nats per image), Adam (lr 1e-3, betas (0.9, 0.999), eps
  1e-8 -- optax's defaults), batch 128, a fresh shuffle each epoch, the ragged
  last batch dropped; 100 epochs;
- model selection: the epoch with the lowest validation -ELBO (one sample per
  image with a fixed generator, like aejax's fixed evaluation key);
- test numbers of that epoch, nats per image: ``neg_elbo`` (one sample),
  ``neg_elbo_k`` (mean over k = 1,000 samples) and ``nll_iw`` (importance-
  sampled, the same k samples).

``--side-by-side`` first runs ``aejax run vae_mnist`` with the same epochs / seed
/ data (in a subprocess, one after the other, never at the same time), then
this model, and prints both and their relative difference.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def lecun_normal_(w, generator):
    """Flax's default kernel init: truncated normal (2 std), variance 1 / fan_in."""
    import torch
    fan_in = w.shape[1]
    std = math.sqrt(1.0 / fan_in) / 0.87962566103423978  # std of a unit normal truncated at +-2
    with torch.no_grad():
        w.copy_(torch.nn.init.trunc_normal_(torch.empty_like(w), 0.0, std, -2 * std, 2 * std,
                                            generator=generator))


def build(latent: int, hidden: int, n_in: int, seed: int):
    """The VAE as a torch module with ``encode`` and ``decode_logits``."""
    import torch
    from torch import nn

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(n_in, hidden)
            self.mean = nn.Linear(hidden, latent)
            self.logvar = nn.Linear(hidden, latent)
            self.dec = nn.Linear(latent, hidden)
            self.out = nn.Linear(hidden, n_in)

        def encode(self, x):                       # [B, P] -> ([B, D], [B, D])
            h = torch.relu(self.enc(x))
            return self.mean(h), self.logvar(h)

        def decode_logits(self, z):                # [..., D] -> [..., P]
            return self.out(torch.relu(self.dec(z)))

    model = VAE()
    g = torch.Generator().manual_seed(seed)
    for layer in (model.enc, model.mean, model.logvar, model.dec, model.out):
        lecun_normal_(layer.weight, g)
        torch.nn.init.zeros_(layer.bias)
    return model


def neg_elbo(model, x, generator):
    """Per-example -ELBO [B] (nats: sums over pixels and latent units), one sample."""
    import torch
    import torch.nn.functional as F
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=generator)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = model.decode_logits(z)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)   # [B]
    kl = 0.5 * (logvar.exp() + mu.square() - 1.0 - logvar).sum(dim=1)                  # [B]
    return rec + kl


def importance(model, x, generator, k: int, batch: int = 100, k_chunk: int = 250):
    """(-log p(x) IWAE estimate [N], k-sample -ELBO [N]) in nats."""
    import torch
    import torch.nn.functional as F
    log2pi = math.log(2 * math.pi)
    nll, nelbo = [], []
    with torch.no_grad():
        for s in range(0, len(x), batch):
            xb = x[s:s + batch]
            mu, logvar = model.encode(xb)
            chunks = []
            for _ in range(-(-k // k_chunk)):
                kc = min(k_chunk, k - sum(c.shape[0] for c in chunks))
                eps = torch.randn((kc, *mu.shape), generator=generator)
                z = mu + torch.exp(0.5 * logvar) * eps                                  # [kc, B, D]
                logits = model.decode_logits(z)                                         # [kc, B, P]
                log_px = -F.binary_cross_entropy_with_logits(
                    logits, xb.expand_as(logits), reduction="none").sum(-1)             # [kc, B]
                log_pz = -0.5 * (z.square() + log2pi).sum(-1)
                log_qz = -0.5 * (eps.square() + logvar + log2pi).sum(-1)
                chunks.append(log_px + log_pz - log_qz)
            lw = torch.cat(chunks)                                                      # [k, B]
            nll.append(-(torch.logsumexp(lw, 0) - math.log(k)))
            nelbo.append(-lw.mean(0))
    return torch.cat(nll).numpy().astype(np.float64), torch.cat(nelbo).numpy().astype(np.float64)


def aejax_data(args):
    """The split ``aejax run vae_mnist`` trains on with these settings: :func:`aejax.run.builder.load_data`
    on vae_mnist's config with ``data.name``, ``seed`` and ``data.limit`` set."""
    from aejax.run import builder, experiment
    exp = experiment.load("vae_mnist")
    cfg = exp.get_config()
    cfg["seed"] = args.seed
    cfg["data"].update(name=args.data, limit=args.limit)
    return builder.load_data(cfg, exp)


def train_reference(args) -> dict:
    """Train the PyTorch VAE and return its test numbers (see module doc)."""
    import torch

    torch.set_num_threads(args.threads)
    ds = aejax_data(args)
    flat = lambda s: torch.from_numpy(s.x.reshape(len(s.x), -1).astype(np.float32))  # noqa: E731
    xtr, xva, xte = flat(ds.train), flat(ds.val), flat(ds.test)
    model = build(args.latent, args.hidden, xtr.shape[1], args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    g_data = torch.Generator().manual_seed(args.seed + 1)
    g_step = torch.Generator().manual_seed(args.seed + 2)
    best = (math.inf, 0, None)
    t0 = time.perf_counter()
    nb = len(xtr) // args.batch_size
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(len(xtr), generator=g_data)[: nb * args.batch_size].view(nb, args.batch_size)
        for idx in perm:
            loss = neg_elbo(model, xtr[idx], g_step).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = float(neg_elbo(model, xva, torch.Generator().manual_seed(args.seed + 3)).mean())
        if val < best[0]:
            best = (val, epoch, copy.deepcopy(model.state_dict()))
        if epoch % 10 == 0 or epoch == args.epochs:
            print(f"torch epoch {epoch}: val -ELBO {val:.2f} (best {best[0]:.2f} at {best[1]}), "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    train_s = time.perf_counter() - t0
    model.load_state_dict(best[2])
    with torch.no_grad():
        test1 = float(neg_elbo(model, xte, torch.Generator().manual_seed(args.seed + 4)).mean())
    nll, nelbo_k = importance(model, xte, torch.Generator().manual_seed(args.seed + 5), args.k)
    return {"framework": f"torch {torch.__version__}", "best_epoch": best[1], "val/neg_elbo": best[0],
            "test/neg_elbo": test1, "test/neg_elbo_k": float(nelbo_k.mean()), "test/nll_iw": float(nll.mean()),
            "iwae_k": args.k, "train_s": round(train_s, 2), "epochs": args.epochs}


def run_aejax(args) -> dict:
    """``aejax run vae_mnist`` with the same settings; its summary.json."""
    workdir = Path(args.workdir) / f"aejax-vae-e{args.epochs}-s{args.seed}"
    cmd = [sys.executable, "-m", "aejax", "run", "vae_mnist", "--workdir", str(workdir), "--overwrite",
           "--set", f"train.epochs={args.epochs}", "--set", f"seed={args.seed}",
           "--set", f"data.name={args.data}", "--set", f"model.latent_dim={args.latent}",
           "--set", f"model.hidden=[{args.hidden}]", "--set", f"train.batch_size={args.batch_size}",
           "--set", f"train.learning_rate={args.lr}", "--set", f"vae.iwae_k={args.k}",
           "--set", f"data.limit={args.limit}", "--set", "train.progress=false"]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads((workdir / "summary.json").read_text())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="binarized:mnist5k")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--latent", type=int, default=20)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=1000, help="importance samples for the NLL estimate")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--side-by-side", action="store_true")
    p.add_argument("--quick", action="store_true", help="2 epochs, 256 examples, k=20")
    p.add_argument("--workdir", default="results/reference_vae")
    p.add_argument("--json", default=None, help="write the numbers here")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.limit, args.k = 2, 256, 20
    out = {"settings": {k: v for k, v in vars(args).items() if k not in ("json", "workdir")}}
    if args.side_by_side:
        s = run_aejax(args)
        out["aejax"] = {k: s[k] for k in ("best_epoch", "test/neg_elbo", "test/neg_elbo_k", "test/nll_iw",
                                          "train_s") if k in s}
    out["torch"] = train_reference(args)
    if args.side_by_side:
        print(f"{'metric (nats / image)':24s} {'aejax':>10s} {'torch':>10s} {'aejax/torch - 1':>16s}")
        for k in ("test/neg_elbo", "test/neg_elbo_k", "test/nll_iw"):
            a, t = out["aejax"][k], out["torch"][k]
            out.setdefault("relative", {})[k] = a / t - 1
            print(f"{k:24s} {a:10.2f} {t:10.2f} {100 * (a / t - 1):+15.2f}%")
        print(f"{'best epoch':24s} {out['aejax']['best_epoch']:10d} {out['torch']['best_epoch']:10d}")
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
