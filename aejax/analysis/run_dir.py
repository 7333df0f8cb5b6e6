"""Latent-space analysis of one run directory: ``aejax analyze RUN_DIR``.

Also run at the end of every training run (``analysis.enabled``, default on).
Reads ``analysis/latents.npy`` (the codes of the test split, flattened to
[N, D]; the posterior mean for VAEs) and, through :func:`aejax.run.builder.load_run`,
the model, its best parameters and the test split. Writes into ``analysis/``:

- ``spectrum.json`` -- the covariance spectrum of the codes (``eigenvalues``
  descending, ``numpy.linalg.eigvalsh(np.cov(latents, rowvar=False))``, the
  symmetric solver; eigenvectors from ``eigh`` of the same matrix; a code
  wider than it has examples, D > N, is decomposed through its [N, N] Gram
  matrix instead -- same non-zero eigenvalues, the other D - N listed as 0.0,
  ``form`` says which;
  ``explained_variance_ratio`` summing to 1; ``modes_90/95/99``;
  ``participation_ratio``), the counts the question "how many eigenvalues are
  greater than 0" needs (``eigenvalues_positive``, ``eigenvalues_nonzero``),
  the noise floors and how many modes stand above them (``noise_floor``,
  ``modes_above_floor`` = above the shuffle floor), dead / active units, and
  the same spectrum of the raw test data (PCA) under ``data`` (its headline
  numbers also as ``data_modes_90`` ...). ``eigenvectors.npy`` [D, D] beside it
  ([D, N] when D > N: the eigenvectors of the non-zero eigenvalues).
- ``importance.json`` -- per-unit variance, active units, the increase of the
  test MSE when one unit (``unit_ablation_increase``) or one covariance
  eigen-direction (``direction_ablation_increase``) is replaced by its mean,
  the unit ranking, and ``keep_top_k``: the test MSE when only the top-k
  eigen-directions / top-k units are kept (the rest at their mean), with
  ``modes_for_loss_95`` ... (the k recovering 95 % of the MSE reduction of
  the full code over the mean code).
- ``disentanglement.json`` -- MIG, SAP and DCI against the known factors,
  when the data source has them (``shapes``, ``seismic_synth``).
- ``summary.md`` (the key numbers in words) and ``timing.json``. The figures
  (``figures/latent_*.png``) are drawn from these files by :mod:`aejax.report.latent_figures`.

Noise floors (see :func:`aejax.analysis.spectrum.noise_floor_report`): the
shuffle floor (parallel analysis: each unit permuted on its own, 20 times,
95th percentile per rank), the Marchenko-Pastur edge, and the spectrum of the
**untrained** encoder's codes of the same inputs (the run's own initial
parameters: its model's ``init`` with its seed), scaled to the trained codes'
total variance. Dead units (variance <= 1e-12 x the largest) are left
out of the floors: their eigenvalues are exactly 0 and below any floor.

When the model cannot be loaded (no checkpoint, a model without ``encode`` /
``decode``, data that an experiment's ``prepare_data`` reshaped), the
spectrum and the shuffle / Marchenko-Pastur floors are still written and
``spectrum.json`` says why the rest was skipped (``model_analysis_skipped``,
``skipped``): the analysis runs at the end of every training run and must not
cost the run its figures and report.

Ablation cost: every configuration (one ablated unit, one ablated direction,
one point of a keep-top-k curve) decodes the same m test examples. m is the
largest number (between min(N, 64) and N) whose modelled cost stays within
``ablation_budget_s`` (default 2 CPU-seconds): decoding is memory-bound on
CPUs, so one example is modelled as XLA's ``bytes accessed`` of the compiled
decoder / 2 GB/s (measured here: 9 us per example for the 784-400-200-100
decoder, 106 us for the conv decoder, against 10 and 76 us modelled). The
model, not a clock, decides m, so reruns give the same numbers; m and the
model are recorded in ``importance.json`` (``examples``, ``decode_us_model``).
Directions are ablated one at a time for the leading 128 at most, units
for every unit up to 512 (:data:`aejax.analysis.importance.MAX_UNITS`). A wider code ablates one by one
as many of its highest-variance units, and of its leading directions, as
the budget allows at 64 examples (split evenly after the keep-top-k curves;
64 to 512 units, 64 to 128 directions): the others' increase is NaN in
``importance.json`` (``units_ablated`` and ``unit_selection`` say so) and
they rank after the ablated ones, by variance.

Cost with the code width (``benchmarks/analysis_scaling.py``, table in
benchmarks/README.md): every spectrum (the code's, 20 shuffled copies, the
untrained encoder's) costs the smaller of the covariance and Gram forms
(:func:`aejax.analysis.spectrum.pca`), wide codes are handled a column block
at a time (memory: a few times the codes themselves), and numpy's BLAS runs on
one thread (two OpenBLAS threads were several times slower on the shared
2-core machine) while a wide code's shuffled floors run one per core.

Measured (``benchmarks/analysis_speed.py results/latent_spectrum/default
--repeats 5``, the 784-400-200-100 AE on mnist5k: 1,000 test codes of 100
units, 769 ablation examples; 2-core machine shared with other jobs, load
average 9): 5.1 CPU-seconds per analysis at the end of a training run
(median; 13.5 s wall under that load), of which ablation 2.8 and figures 1.5;
``aejax analyze`` from a fresh process 7.5 CPU-s (20.5 s wall), imports
included. The conv AE's 392-unit code (64 ablation examples): 9.0 CPU-s.
"""
from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

import numpy as np

from aejax.analysis import importance as imp
from aejax.analysis import spectrum as spec
from aejax.errors import UserError
from aejax.run.builder import inputs, load_run
from aejax.run.rundir import atomic_write, save_npy

DEAD_REL = 1e-12          # a unit whose variance is <= DEAD_REL x the largest never changes
ABLATION_BUDGET_S = 2.0   # modelled CPU-seconds the ablation may spend decoding
MEMORY_BW = 2e9           # bytes / s: the decode cost model (memory-bound on CPU)
DECODE_BATCH = 2048       # rows per compiled decode call (one shape, one compile)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e.msg})") from e


def _write_json(path: Path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=1, allow_nan=True) + "\n")


def _context(run_dir: Path, z: np.ndarray | None, experiment: str | None = None,
             cfg: dict | None = None) -> types.SimpleNamespace:
    """Model, parameters, test inputs / targets, and jitted encode / decode of a run."""
    import jax

    r = load_run(run_dir, experiment=experiment, cfg=cfg)
    cfg, ds = r.cfg, r.data
    x_in = inputs(ds, cfg)["test_in"]  # the test inputs the run was scored on
    model = r.model
    enc = jax.jit(lambda p, x: model.apply({"params": p}, x, method="encode"))
    dec = jax.jit(lambda p, c: model.apply({"params": p}, c, method="decode"))
    code_shape = jax.eval_shape(enc, r.params, x_in[:1]).shape[1:]
    d = int(np.prod(code_shape))

    def run_batched(fn, params, a, rows):
        out = []
        for s in range(0, len(a), rows):
            b = a[s:s + rows]
            m = len(b)
            if m < rows:  # pad the last chunk: one shape, one compile
                b = np.concatenate([b, np.zeros((rows - m, *b.shape[1:]), b.dtype)])
            out.append(np.asarray(fn(params, b))[:m])
        return np.concatenate(out) if out else np.zeros((0,))

    def encode(params, x):
        """[N, ...] inputs -> flattened codes [N, D] float32."""
        return run_batched(enc, params, np.asarray(x, np.float32), 1000).reshape(len(x), d)

    def decode(codes):
        """Flattened codes [B, D] -> reconstructions [B, ...] (best parameters)."""
        codes = np.asarray(codes, np.float32).reshape(len(codes), *code_shape)  # [B, *code_shape]
        rows = min(DECODE_BATCH, max(256, 1 << int(np.ceil(np.log2(max(len(codes), 1))))))
        return run_batched(dec, r.params, codes, rows)  # padded to 256 .. 2048 rows: <= 4 shapes

    try:  # modelled seconds to decode one example (see the module docstring)
        ca = dec.lower(r.params, jax.ShapeDtypeStruct((DECODE_BATCH, *code_shape), np.float32)) \
            .compile().cost_analysis()
        ca = ca[0] if isinstance(ca, (list, tuple)) else ca
        per_example = float(ca["bytes accessed"]) / DECODE_BATCH / MEMORY_BW
    except Exception:  # noqa: BLE001 -- no cost analysis on this backend: assume every output byte x 16
        per_example = 16 * 4 * int(np.prod(ds.test.x.shape[1:])) / MEMORY_BW
    ctx = types.SimpleNamespace(run=r, x=ds.test.x, x_in=x_in, encode=encode, decode=decode, d=d,
                                ok=True, reason="", decode_s=per_example)
    if z is not None:
        k = min(16, len(z))
        again = encode(r.params, x_in[:k])
        if z.shape != (len(ds.test.x), d) or not np.allclose(again, z[:k], rtol=1e-3, atol=1e-4):
            ctx.ok, ctx.reason = False, (
                "analysis/latents.npy does not match the checkpoint's codes of the test split "
                f"(shape {z.shape} vs ({len(ds.test.x)}, {d})); model-based analysis skipped")
    return ctx


def _spectrum(z: np.ndarray, rng: np.random.Generator, z_untrained=None) -> tuple[dict, np.ndarray]:
    """spectrum.json content (without ``data``) and the eigenvectors [D, min(N, D)]."""
    n, d = z.shape
    s = spec.covariance_spectrum(z)  # the covariance form when D <= N, the Gram form when D > N
    vecs = s.pop("eigenvectors")
    w_eigh = np.asarray(s["eigenvalues"])
    if s["form"] == "covariance":
        # The stored eigenvalues are numpy's symmetric eigenvalue-only solver on the covariance of
        # the saved latents, exactly as a reader would check them: eigh's values differ from these
        # in the last bits, which is a relative difference of order 1 for the ~1e-16 eigenvalues of
        # dead units.
        s.update(spec.spectrum_stats(np.linalg.eigvalsh(np.atleast_2d(np.cov(z, rowvar=False)))[::-1]))
        solver = "eigenvalues: numpy.linalg.eigvalsh(np.cov(latents, rowvar=False)) (ddof=1, float64), " \
                 "descending; eigenvectors.npy: numpy.linalg.eigh of the same matrix"
    else:
        solver = "D > N: numpy.linalg.eigh of the N x N Gram matrix of the centred latents / (N - 1) " \
                 "(float64; the same non-zero eigenvalues as the D x D covariance, whose other D - N " \
                 "eigenvalues are exactly 0 and listed as 0.0); eigenvectors.npy [D, N]: Xc^T u / s"
    w = np.asarray(s["eigenvalues"])
    var = spec.column_mean_var(z)[1]
    alive = var > DEAD_REL * max(var.max(), 0.0) if var.max() > 0 else np.zeros_like(var, bool)
    out = {"source": "analysis/latents.npy", "solver": solver, **s}
    out["eigenvalues_positive"] = int(np.sum(w > 0))  # the question's criterion (round-off decides)
    tol = max(w[0], 0.0) * w.size * np.finfo(np.float64).eps
    out["eigenvalues_nonzero"] = int(np.sum(w > tol))  # matrix_rank's rule on the covariance
    out["dead_units"] = int(np.sum(~alive))
    out["active_units"] = int(np.sum(var > 0.01))
    floor = {"dead_units_excluded": int(np.sum(~alive))}
    if alive.sum() >= 2:
        every = bool(alive.all())
        za = z if every else z[:, alive]
        ref = None
        if z_untrained is not None:
            zu = z_untrained if every else z_untrained[:, alive]
            tv_u, tv = spec.column_mean_var(zu)[1].sum(), var[alive].sum()
            scale = np.sqrt(tv / tv_u) if tv_u > 0 else None
            if scale is not None and s["form"] == "gram":  # a wide code: no float64 copy of float32 codes
                scale = np.asarray(scale, zu.dtype) if np.issubdtype(zu.dtype, np.floating) else scale
            ref = zu * scale if scale is not None else None
        # The live units' spectrum is the spectrum without the dead units' zeros.
        w_alive = w_eigh[:za.shape[1]] if every or s["form"] == "gram" else None
        floor.update(spec.noise_floor_report(za, rng, z_reference=ref, eigenvalues=w_alive))
        pad = [0.0] * int(np.sum(~alive))  # dead units: eigenvalue 0, floor 0
        for key in ("shuffle_floor", "reference_floor"):
            if key in floor:
                floor[key] = floor[key] + pad
        if ref is not None:
            floor["reference"] = "untrained encoder (the run's own initial parameters), " \
                                 "scaled to the same total variance"
            out["modes_above_untrained"] = floor["modes_above_reference"]
            out["modes_above_untrained_max"] = floor["modes_above_reference_max"]
        out["modes_above_floor"] = floor["modes_above_shuffle"]
        out["modes_above_mp"] = floor["modes_above_mp"]
    else:
        out["modes_above_floor"] = out["modes_above_mp"] = 0
    out["noise_floor"] = floor
    # How spread each leading eigen-direction is over units: units holding 90 % of its squared loading.
    sq = np.sort(vecs[:, :10] ** 2, axis=0)[::-1]  # [D, <= 10] per column, descending
    out["eigvec_units_90"] = [int(np.searchsorted(np.cumsum(sq[:, j]), 0.9 - 1e-12) + 1)
                              for j in range(sq.shape[1])]
    return out, vecs


def data_spectrum(x: np.ndarray) -> dict:
    """PCA spectrum of raw inputs [N, ...] (flattened to [N, P]), JSON-able.

    The eigenvalues of :func:`aejax.analysis.spectrum.pca` (covariance, ddof=1;
    the [N, N] Gram matrix when N < P), without the principal axes:
    eigenvalues alone cost a third of the time (0.3 s for 1,000 x 784).
    """
    fit = spec.pca(x, vectors=False)
    out = spec.spectrum_stats(fit["eigenvalues"])
    out["total_variance"] = fit["total_variance"]
    out["n"], out["p"] = fit["n"], fit["p"]
    return out


def _factors(ds) -> tuple[np.ndarray, list, dict] | None:
    """Known generative factors of the test split: ([N, K] float64, names, kinds) or None."""
    names = list(ds.meta.get("factors") or [])
    names = [f for f in names if f in ds.test.extras]
    if not names:
        return None
    f = np.stack([np.asarray(ds.test.extras[k], np.float64) for k in names], axis=1)  # [N, K]
    return f, names, dict(ds.meta.get("factor_kinds") or {})


def disentanglement(z: np.ndarray, factors: np.ndarray, names: list, kinds: dict,
                    rng: np.random.Generator) -> dict:
    """MIG, SAP and DCI of codes [N, D] against factors [N, K] (JSON-able).

    Categorical factors (``kinds[name] == "categorical"``) are classified;
    other factors are ordinal / continuous: SAP scores them by R^2 (as
    disentanglement_lib's tests do for integer factors), MIG and DCI decide
    per factor (see :mod:`aejax.analysis.disentangle`). Dead units are
    dropped first (a constant unit carries no information).
    """
    from aejax.analysis import disentangle as dis

    var = z.var(axis=0)
    keep = var > DEAD_REL * max(var.max(), 0.0)
    zk = z[:, keep] if keep.sum() >= 1 else z
    categorical = [kinds.get(k) == "categorical" for k in names]
    # Discrete factors as integer labels 0..m-1 (scikit-learn's classifiers refuse float
    # labels such as scale 0.6); an order-preserving relabelling that MIG ignores.
    factors = np.asarray(factors, np.float64).copy()
    for j in np.flatnonzero(~dis.factor_is_continuous(factors)):
        factors[:, j] = np.unique(factors[:, j], return_inverse=True)[1]
    mig = dis.mig(zk, factors)
    sap = dis.sap(zk, factors, rng=rng, continuous_factors=[not c for c in categorical])
    dci = dis.dci(zk, factors, rng)
    return {"factors": names, "factor_kinds": [kinds.get(k, "ordinal") for k in names],
            "units_used": np.flatnonzero(keep).tolist(),
            "mig": mig["mig"], "sap": sap["sap"], "dci_disentanglement": dci["disentanglement"],
            "dci_completeness": dci["completeness"], "dci_informativeness": dci["informativeness_test"],
            "mig_detail": mig, "sap_detail": sap, "dci_detail": dci}


def _clock() -> tuple[float, float]:
    """(wall, CPU) seconds now; CPU = this process's time on every core (load-independent work)."""
    return time.perf_counter(), time.process_time()


def _lap(timing: dict, name: str, start: tuple[float, float]) -> None:
    """Record ``<name>_s`` (wall) and ``<name>_cpu_s`` since ``start``."""
    wall, cpu = _clock()
    timing[f"{name}_s"], timing[f"{name}_cpu_s"] = wall - start[0], cpu - start[1]


def _one_blas_thread():
    """numpy's BLAS on one thread during the analysis. On a shared 2-core machine two OpenBLAS
    threads made the spectra several times slower, small and large (benchmarks/README.md, the latent
    analysis against the code width). Every core is used instead one level up: the shuffled
    floors of a wide code run one per core (:func:`aejax.analysis.spectrum.shuffle_floor`), and JAX's
    encode / decode use their own threads."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def analyze(run_dir, *, model: bool = True, untrained: bool = True,
            ablation_budget_s: float = ABLATION_BUDGET_S, seed: int = 0, strict: bool = False,
            experiment: str | None = None, cfg: dict | None = None) -> dict:
    """Analyse the latent space of a finished run; returns the headline numbers.

    ``strict`` (``aejax analyze``): a model that cannot be loaded is an error before anything is
    written, and a stage that fails makes the call fail after writing the rest (at the end of a
    training run the analysis is lenient: a failed stage is recorded and skipped). ``experiment``:
    the experiment file whose ``prepare_data`` the run used, when config.json names a path (a path
    read from a run directory is never imported). ``cfg``: the run's config when the caller holds it
    (the end of training), else config.json is read.

    ``model=False`` analyses ``analysis/latents.npy`` alone (spectrum and
    shuffle / Marchenko-Pastur floors; no data PCA, ablation, untrained floor
    or factors). Random draws (shuffles, untrained weights, metric splits)
    come from ``np.random.default_rng([seed, ...])``.
    """
    with _one_blas_thread():
        return _analyze(run_dir, model=model, untrained=untrained, ablation_budget_s=ablation_budget_s,
                        seed=seed, strict=strict, experiment=experiment, run_cfg=cfg)


def _analyze(run_dir, *, model, untrained, ablation_budget_s, seed, strict, experiment, run_cfg) -> dict:
    t0 = _clock()
    timing: dict = {}
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise UserError(f"{run_dir}: not a run directory (no config.json)")
    cfg = _read_json(run_dir / "config.json")
    out_dir = run_dir / "analysis"
    out_dir.mkdir(exist_ok=True)
    lat_path = out_dir / "latents.npy"
    z = None
    if lat_path.exists():
        try:
            z = np.load(lat_path, allow_pickle=False)
        except ValueError as e:
            raise UserError(f"{lat_path}: not a numeric .npy array ({e})") from e
        if z.ndim < 2 or len(z) < 2 or not np.issubdtype(z.dtype, np.number) or not np.all(np.isfinite(z)):
            raise UserError(f"{lat_path}: expected finite codes [N >= 2, D], got shape {z.shape}")
        z = z.reshape(len(z), -1)  # [N, D]
    elif not model:
        raise UserError(f"{lat_path}: missing (rerun the training, or analyze with the model)")
    ctx = None
    if model and strict:  # fail before touching anything
        try:
            ctx = _context(run_dir, z, experiment, run_cfg)
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 -- e.g. a model without encode / decode
            raise UserError(f"{run_dir}: cannot load the model for the analysis ({type(e).__name__}: {e})") from None
    for stale in ("importance.json", "disentanglement.json"):  # from an earlier analysis
        (out_dir / stale).unlink(missing_ok=True)
    skipped: list[str] = []

    def stage(name, fn):
        """Run one model-based stage; a failure is recorded, not raised: the analysis runs at
        the end of every training run and must not cost the run its figures and report."""
        try:
            return fn()
        except Exception as e:  # noqa: BLE001
            msg = f"{name}: {type(e).__name__}: {e}"
            print(f"aejax analyze: warning: {msg} (skipped)", file=sys.stderr)
            skipped.append(msg)
            return None

    if model and ctx is None:
        try:
            ctx = _context(run_dir, z, experiment, run_cfg)
        except Exception as e:  # noqa: BLE001 -- e.g. a model without encode / decode
            if z is None:
                raise
            ctx = types.SimpleNamespace(ok=False, reason=f"model not loaded: {type(e).__name__}: {e}")
        if z is None:
            z = ctx.encode(ctx.run.params, ctx.x_in)
            save_npy(lat_path, z)
        _lap(timing, "load_model", t0)
    use_model = ctx is not None and ctx.ok

    t = _clock()
    z_untrained = None
    if use_model and untrained:
        z_untrained = stage("untrained-encoder floor", lambda: ctx.encode(ctx.run.init_params(), ctx.x_in))
    result, vecs = _spectrum(z, np.random.default_rng([seed, 12]), z_untrained)
    if use_model:
        data = stage("data PCA", lambda: data_spectrum(ctx.x))
        if data is not None:
            result["data"] = data
            for key in ("modes_90", "modes_95", "modes_99", "participation_ratio"):
                result[f"data_{key}"] = data[key]
    elif ctx is not None:
        result["model_analysis_skipped"] = ctx.reason
    save_npy(out_dir / "eigenvectors.npy", vecs)
    _lap(timing, "spectrum", t)

    importance = None
    if use_model:
        t = _clock()
        importance = stage("ablation", lambda: imp.importance_report(z, vecs, ctx.decode, ctx.x, ctx.decode_s,
                                                                             ablation_budget_s))
        if importance is not None:
            _write_json(out_dir / "importance.json", importance)
        _lap(timing, "ablation", t)
        fac = _factors(ctx.run.data)
        if fac is not None:
            t = _clock()
            dis = stage("disentanglement", lambda: disentanglement(z, *fac, np.random.default_rng([seed, 13])))
            if dis is not None:
                _write_json(out_dir / "disentanglement.json", dis)
            _lap(timing, "disentanglement", t)
    if skipped:
        result["skipped"] = skipped
    _write_json(out_dir / "spectrum.json", result)
    headline = headline_numbers(result, importance, _read_optional(out_dir / "disentanglement.json"))
    atomic_write(out_dir / "summary.md", summary_markdown(headline, cfg))
    _lap(timing, "total", t0)
    _write_json(out_dir / "timing.json", {k: round(v, 4) for k, v in timing.items()})
    headline["analysis_s"] = round(timing["total_s"], 3)
    if strict and skipped:
        raise UserError(f"{run_dir}: the analysis is incomplete (the rest is written): " + "; ".join(skipped))
    return headline


def _read_optional(path: Path):
    return _read_json(path) if path.exists() else None


def headline_numbers(spectrum: dict, importance: dict | None, dis: dict | None) -> dict:
    """The scalars worth quoting, from the three JSON files' contents."""
    keys = ("d", "n", "eigenvalues_positive", "eigenvalues_nonzero", "modes_above_floor",
            "modes_above_mp", "modes_above_untrained", "modes_above_untrained_max", "modes_90",
            "modes_95", "modes_99", "participation_ratio", "dead_units", "active_units",
            "data_modes_90", "data_modes_95", "data_modes_99", "data_participation_ratio")
    h = {k: spectrum[k] for k in keys if k in spectrum}
    if importance:
        for k in ("baseline_loss", "mean_code_loss", "modes_for_loss_90", "modes_for_loss_95",
                  "modes_for_loss_99", "units_for_loss_90", "units_for_loss_95", "units_for_loss_99",
                  "spearman_variance_vs_ablation", "top_units", "examples"):
            if k in importance:
                h[k] = importance[k]
    if dis:
        for k in ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"):
            h[k] = dis[k]
    return h


def summary_markdown(h: dict, cfg: dict) -> str:
    """analysis/summary.md: the headline numbers of one run, in sentences."""
    d = h.get("d")
    lines = [f"# Latent analysis ({cfg['model']['name']} on {cfg['data']['name']}, {d} code units, "
             f"{h.get('n')} test codes)", ""]
    lines.append(f"- Covariance eigenvalues > 0: {h.get('eigenvalues_positive')} of {d}; numerically "
                 f"non-zero: {h.get('eigenvalues_nonzero')}; dead units (constant): {h.get('dead_units')}; "
                 f"active units (variance > 0.01): {h.get('active_units')}.")
    floor = f"- Modes above the noise floor: {h.get('modes_above_floor')} (shuffle floor, 95th percentile), " \
            f"{h.get('modes_above_mp')} (Marchenko-Pastur edge)"
    if "modes_above_untrained" in h:
        floor += f", {h['modes_above_untrained_max']}-{h['modes_above_untrained']} (untrained encoder)"
    lines.append(floor + ".")
    lines.append(f"- Modes for 90 / 95 / 99 % of the code variance: {h.get('modes_90')} / {h.get('modes_95')} / "
                 f"{h.get('modes_99')}; participation ratio {h.get('participation_ratio', 0):.1f}.")
    if "data_modes_90" in h:
        lines.append(f"- Raw test data (PCA): {h['data_modes_90']} / {h['data_modes_95']} / {h['data_modes_99']} "
                     f"components for 90 / 95 / 99 %; participation ratio {h['data_participation_ratio']:.1f}.")
    if "baseline_loss" in h and h.get("modes_for_loss_95") is None:
        lines.append(f"- Test MSE {h['baseline_loss']:.5g} with the full code, {h['mean_code_loss']:.5g} with "
                     f"every unit at its mean ({h['examples']} examples): the code does not improve on its "
                     f"mean (an untrained or collapsed model), so no number of modes or units 'matters'.")
    elif "baseline_loss" in h:
        lines.append(f"- Test MSE {h['baseline_loss']:.5g} with the full code, {h['mean_code_loss']:.5g} with "
                     f"every unit at its mean ({h['examples']} examples). Keeping the top-k eigen-directions "
                     f"recovers 90 / 95 / 99 % of that reduction at k = {h.get('modes_for_loss_90')} / "
                     f"{h.get('modes_for_loss_95')} / {h.get('modes_for_loss_99')}; the top-k units by ablation "
                     f"at k = {h.get('units_for_loss_90')} / {h.get('units_for_loss_95')} / "
                     f"{h.get('units_for_loss_99')}.")
        if "spearman_variance_vs_ablation" in h:
            lines.append(f"- Most important units (ablation): {h['top_units']}; rank correlation of unit "
                         f"variance with ablation importance: {h['spearman_variance_vs_ablation']:.2f}.")
    if "mig" in h:
        lines.append(f"- Disentanglement against the known factors: MIG {h['mig']:.3f}, SAP {h['sap']:.3f}, "
                     f"DCI disentanglement {h['dci_disentanglement']:.3f}, completeness "
                     f"{h['dci_completeness']:.3f}, informativeness {h['dci_informativeness']:.3f}.")
    return "\n".join(lines) + "\n"
