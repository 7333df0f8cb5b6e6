"""Compression: reconstruction error against code size and bits per code value.

The encoder is the compressor and the decoder the decompressor; the code is
what would be stored. :func:`compression_after_training` quantises every code
value uniformly to ``b`` bits (``2^b`` levels between the 0.1 % and 99.9 %
quantiles of that unit over the training codes, values outside clipped),
decodes, and measures the test MSE against the clean image for each ``b``, and
for float32 codes (32 bits). Bits per image = code size x b; an 8-bit 28x28
image holds 6,272 bits. The baseline is PCA with as many components as the
code, fitted on the training images and quantised the same way (its
coefficients per component, same quantile range).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from aejax.analysis import spectrum
from aejax.run.rundir import atomic_write

BITS = (1, 2, 3, 4, 6, 8)


def quantize(codes: np.ndarray, lo: np.ndarray, hi: np.ndarray, bits: int) -> np.ndarray:
    """Uniform ``bits``-bit quantisation of each column of ``codes`` [N, D] over [lo, hi] (per column),
    returning the de-quantised values (the centre of each level)."""
    levels = 2 ** bits
    span = np.maximum(hi - lo, 1e-12)
    q = np.clip(np.floor((codes - lo) / span * levels), 0, levels - 1)       # integer level per value
    return (lo + (q + 0.5) * span / levels).astype(np.float32)


def _range(train_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.quantile(train_codes, 0.001, axis=0), np.quantile(train_codes, 0.999, axis=0)


def _mse(a, b) -> float:
    return float(np.mean(np.square(a.reshape(len(a), -1) - b.reshape(len(b), -1))))


def compression_after_training(*, cfg, workdir, trainer, params, data, arrays, bits=BITS,
                               figures: bool = True, **_) -> dict:
    """Test MSE for float and ``b``-bit codes, and the PCA baseline; ``analysis/compression.json``.

    Summary entries: ``code_dim``, ``test/mse_float``, ``test/mse_<b>bit`` for each b,
    ``test/pca_mse_float`` and ``test/pca_mse_<b>bit``, ``bits_per_image_8bit``.
    """
    x_tr, x_te = data.train.x, data.test.x
    enc = lambda x: np.asarray(trainer.predict(params, x, method="encode"))  # noqa: E731
    z_tr, z_te = enc(arrays["train"]), enc(arrays["test_in"])
    shape = z_te.shape[1:]
    z_tr, z_te = z_tr.reshape(len(z_tr), -1), z_te.reshape(len(z_te), -1)   # [N, D]
    d = z_te.shape[1]
    dec = lambda z: np.asarray(trainer.predict(params, z.reshape(len(z), *shape), method="decode"))  # noqa: E731
    lo, hi = _range(z_tr)
    ae = {"float": _mse(dec(z_te), x_te)}
    for b in bits:
        ae[f"{b}bit"] = _mse(dec(quantize(z_te, lo, hi, b)), x_te)
    # PCA baseline with d components (d <= pixels and <= training examples)
    flat_tr, flat_te = x_tr.reshape(len(x_tr), -1), x_te.reshape(len(x_te), -1)
    k = min(d, flat_tr.shape[1], len(flat_tr))
    fit = spectrum.pca(flat_tr, k)  # the package's one PCA
    mean, comp = fit["mean"], fit["components"].T                            # [P], [k, P]
    c_tr, c_te = (flat_tr - mean) @ comp.T, (flat_te - mean) @ comp.T         # [N, k]
    pca_dec = lambda c: c @ comp + mean  # noqa: E731
    plo, phi = _range(c_tr)
    pca = {"float": _mse(pca_dec(c_te), flat_te)}
    for b in bits:
        pca[f"{b}bit"] = _mse(pca_dec(quantize(c_te, plo, phi, b)), flat_te)
    numbers = {"code_dim": int(d), "pixels": int(flat_te.shape[1]), "bits": list(bits),
               "ae_mse": ae, "pca_mse": pca, "pca_components": int(k)}
    out_dir = Path(workdir) / "analysis"
    out_dir.mkdir(exist_ok=True)
    atomic_write(out_dir / "compression.json", json.dumps(numbers, indent=2) + "\n")
    if figures:
        compression_figure(workdir)
    summary = {"code_dim": int(d), "bits_per_image_8bit": int(8 * d),
               **{f"test/mse_{k_}": v for k_, v in ae.items()},
               **{f"test/pca_mse_{k_}": v for k_, v in pca.items()}}
    return summary


def compression_figure(run_dir) -> Path:
    """MSE against bits per image for this run's code size: AE vs PCA."""
    from aejax.projects.zoo import figures as F
    run_dir = Path(run_dir)
    c = json.loads((run_dir / "analysis" / "compression.json").read_text())
    d, bits = c["code_dim"], c["bits"]
    xs = [d * b for b in bits] + [d * 32]
    keys = [f"{b}bit" for b in bits] + ["float"]
    return F.curves({f"autoencoder (code {d})": (xs, [c["ae_mse"][k] for k in keys], None),
                     f"PCA ({c['pca_components']} components)": (xs, [c["pca_mse"][k] for k in keys], None)},
                    run_dir / "figures" / "compression.png",
                    title=f"Test MSE against bits per image (code values quantised to 1-8 bits, and float32); "
                          f"an 8-bit image holds {8 * c['pixels']} bits",
                    xlabel="bits per image (code size x bits per value)", ylabel="test MSE", logx=True, logy=True)


def compression_after_sweep(*, sweep_dir, configs, rows, bits=BITS) -> None:
    """sweep.md (one line per code size) and the rate-distortion figures of a code-size sweep."""
    from aejax.projects.zoo import figures as F
    from aejax.projects.zoo.zoo import group_stats, seed_table
    sweep_dir = Path(sweep_dir)
    group = "zoo.latent_dim"
    metrics = [("code_dim", "code values"), ("test/mse_float", "MSE float32")] + \
        [(f"test/mse_{b}bit", f"MSE {b}-bit") for b in (8, 4, 2)] + \
        [("test/pca_mse_float", "PCA MSE float32"), ("test/pca_mse_4bit", "PCA MSE 4-bit"),
         ("bits_per_image_8bit", "bits/image at 8 bit")]
    notes = ["Test MSE of the decoded code against the clean image, for float32 codes and codes quantised "
             "to b bits per value; PCA with as many components as the code is the baseline. "
             "Mean ± std over seeds (n runs)."]
    atomic_write(sweep_dir / "sweep.md", seed_table(rows, group, metrics, "Compression: error against code size "
                                                   "and bits per code value", notes))
    sizes = sorted({int(r[group]) for r in rows if group in r})
    if not sizes:
        return
    keys = [f"{b}bit" for b in bits] + ["float"]
    series = {}
    for d in sizes:
        members = [r for r in rows if r.get(group) == d]
        xs = [d * b for b in bits] + [d * 32]
        ys = [float(np.mean([m[f"test/mse_{k}"] for m in members])) for k in keys]
        series[f"AE, code {d}"] = (xs, ys, None)
    best_pca = {}
    for d in sizes:
        members = [r for r in rows if r.get(group) == d]
        best_pca[d] = [float(np.mean([m[f"test/pca_mse_{k}"] for m in members])) for k in keys]
    for d in (sizes[0], sizes[-1]) if len(sizes) > 1 else (sizes[0],):
        series[f"PCA, {d} components"] = ([d * b for b in bits] + [d * 32], best_pca[d], None)
    F.curves(series, sweep_dir / "figures" / "rate_distortion.png",
             title="Rate-distortion: test MSE against bits per image (each code size quantised to 1, 2, 3, 4, "
                   "6, 8 bits per value, then float32)",
             xlabel="bits per image", ylabel="test MSE", logx=True, logy=True)
    ae = group_stats(rows, group, "test/mse_float")
    pca = group_stats(rows, group, "test/pca_mse_float")
    q4 = group_stats(rows, group, "test/mse_4bit")
    F.curves({"autoencoder, float32 code": (sizes, [ae[str(d)][0] for d in sizes], [ae[str(d)][1] for d in sizes]),
              "autoencoder, 4-bit code": (sizes, [q4[str(d)][0] for d in sizes], [q4[str(d)][1] for d in sizes]),
              "PCA, same number of components": (sizes, [pca[str(d)][0] for d in sizes], None)},
             sweep_dir / "figures" / "mse_vs_code_size.png",
             title="Test reconstruction error against code size (mean ± std over seeds)",
             xlabel="code size (values)", ylabel="test MSE", logx=True, logy=True)
