"""aejax.analysis.run_dir: latent analysis of real run directories: spectrum files against numpy,
ablation, figures, CLI, and disentanglement scores against known factors.

One small training run (the dense AE with a ReLU code on 512 mnist5k digits,
2 epochs, as ``--quick``) is made once per module; the runner analyses it at
the end (``analysis.enabled``), and the tests read what it wrote.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from aejax import api
from aejax.analysis import run_dir
from aejax.data import shapes
from aejax.errors import UserError


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("latent") / "run"
    api.run("mnist_dense", workdir=wd, quick=True,
               overrides=["model.latent_activation=relu", "train.progress=false", "train.epochs=3"])
    return wd


def test_spectrum_matches_numpy_eigvalsh(run):
    z = np.load(run / "analysis" / "latents.npy")
    s = json.loads((run / "analysis" / "spectrum.json").read_text())
    assert z.ndim == 2 and z.shape == (s["n"], s["d"]) == (512, 100)
    ref = np.linalg.eigvalsh(np.cov(z, rowvar=False))[::-1]
    ev = np.asarray(s["eigenvalues"])
    np.testing.assert_allclose(ev, ref, rtol=1e-5, atol=1e-12 * ref[0])  # dead units: ~1e-15, rounding noise
    assert np.all(np.diff(ev) <= 0)  # descending
    assert sum(s["explained_variance_ratio"]) == pytest.approx(1.0, abs=1e-12)
    c = np.cumsum(s["explained_variance_ratio"])
    for key, t in (("modes_90", 0.9), ("modes_95", 0.95), ("modes_99", 0.99)):
        k = s[key]
        assert c[k - 1] >= t - 1e-12 and (k == 1 or c[k - 2] < t)
    lam = np.clip(ref, 0, None)
    assert s["participation_ratio"] == pytest.approx(lam.sum() ** 2 / (lam**2).sum(), rel=1e-9)
    # The question's criterion vs numerical rank: dead ReLU units give exact zeros.
    var = z.var(axis=0, ddof=1)
    assert s["dead_units"] == int(np.sum(var == 0))
    assert s["eigenvalues_nonzero"] <= 100 - s["dead_units"]
    assert s["eigenvalues_positive"] == int(np.sum(ev > 0))
    # Data PCA beside it: the raw test images, 784 pixels.
    assert s["data"]["p"] == 784 and sum(s["data"]["explained_variance_ratio"]) == pytest.approx(1.0)
    assert s["data_modes_90"] == s["data"]["modes_90"]
    # Noise floors: counts bounded, floor as long as the spectrum.
    nf = s["noise_floor"]
    assert len(nf["shuffle_floor"]) == 100 and len(nf["reference_floor"]) == 100
    assert 0 <= s["modes_above_floor"] <= s["eigenvalues_nonzero"]
    vecs = np.load(run / "analysis" / "eigenvectors.npy")
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(100), atol=1e-8)


def test_importance_file(run):
    im = json.loads((run / "analysis" / "importance.json").read_text())
    inc = np.asarray(im["unit_ablation_increase"])
    var = np.asarray(im["unit_variance"])
    assert sorted(im["unit_rank"]) == list(range(100))
    assert np.all(inc[var == 0] == 0.0)  # ablating a constant unit changes nothing
    assert inc[im["unit_rank"][0]] == inc.max()
    assert len(im["direction_ablation_increase"]) == 100
    c = im["keep_top_k"]
    assert c["k"][0] == 0 and c["k"][-1] == 100
    # All k kept = the full code (directions form a complete basis; units: all of them).
    assert c["directions"][-1] == pytest.approx(im["baseline_loss"], rel=1e-4)
    assert c["units_by_ablation"][-1] == pytest.approx(im["baseline_loss"], rel=1e-6)
    assert c["units_by_ablation"][0] == pytest.approx(im["mean_code_loss"], rel=1e-4)


def test_figures_and_report(run):
    for name in ("latent_scree", "latent_cumulative", "latent_unit_importance", "latent_ablation"):
        p = run / "figures" / f"{name}.png"
        assert p.exists() and p.stat().st_size > 10_000
    page = (run / "report.html").read_text()
    assert "Latent analysis" in page and "modes_above_floor" in page
    timing = json.loads((run / "analysis" / "timing.json").read_text())
    assert timing["total_s"] > 0


def test_reanalysis_is_deterministic(run):
    before = json.loads((run / "analysis" / "spectrum.json").read_text())
    h = run_dir.analyze(run)
    after = json.loads((run / "analysis" / "spectrum.json").read_text())
    assert after == before
    assert h["modes_above_floor"] == before["modes_above_floor"]


def test_untrained_floor_is_the_runs_own_initialisation(run, monkeypatch):
    """The untrained-encoder floor encodes with the model's own init (its kernel_init, its seed)."""
    import jax

    from aejax.run import builder
    from aejax.train.step import init_state
    seen = {}
    real = run_dir._spectrum

    def spy(z, rng, z_untrained=None):
        seen["z"] = z_untrained
        return real(z, rng, z_untrained)
    monkeypatch.setattr(run_dir, "_spectrum", spy)
    run_dir.analyze(run)
    r = builder.load_run(run)
    assert r.cfg["model"]["kernel_init"] == "glorot_uniform"
    params0 = init_state(r.task, r.data.example_shape, r.cfg["seed"])[0].params  # what training started from
    x_in = builder.inputs(r.data, r.cfg)["test_in"]
    z0 = np.asarray(r.model.apply({"params": params0}, x_in, method="encode"))
    np.testing.assert_allclose(seen["z"], z0, rtol=1e-5, atol=1e-6)
    # Glorot-uniform kernels stay within their bound (a LeCun-normal re-draw would not).
    for leaf_path, w in jax.tree_util.tree_leaves_with_path(params0):
        if "kernel" in jax.tree_util.keystr(leaf_path):
            assert np.abs(w).max() <= np.sqrt(6 / sum(w.shape)) + 1e-6


def test_latents_only_analysis(tmp_path, run):
    (tmp_path / "analysis").mkdir()
    (tmp_path / "config.json").write_text((run / "config.json").read_text())
    z = np.load(run / "analysis" / "latents.npy")
    np.save(tmp_path / "analysis" / "latents.npy", z)
    h = run_dir.analyze(tmp_path, model=False)
    assert h["d"] == 100 and "baseline_loss" not in h
    assert not (tmp_path / "analysis" / "importance.json").exists()


def test_model_failure_keeps_the_spectrum(tmp_path, run):
    """Without a checkpoint the model-based stages are skipped with the reason, not raised."""
    (tmp_path / "analysis").mkdir()
    (tmp_path / "config.json").write_text((run / "config.json").read_text())
    np.save(tmp_path / "analysis" / "latents.npy", np.load(run / "analysis" / "latents.npy"))
    (tmp_path / "analysis" / "importance.json").write_text("{}")  # stale: must not survive
    h = run_dir.analyze(tmp_path)
    s = json.loads((tmp_path / "analysis" / "spectrum.json").read_text())
    assert "no checkpoint" in s["model_analysis_skipped"] and h["d"] == 100
    assert not (tmp_path / "analysis" / "importance.json").exists()


def test_bad_inputs(tmp_path, cli):
    with pytest.raises(UserError, match="no config.json"):
        run_dir.analyze(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model": {"name": "dense"}, "data": {"name": "x"}}))
    (tmp_path / "analysis").mkdir()
    np.save(tmp_path / "analysis" / "latents.npy", np.full((5, 3), np.nan))
    with pytest.raises(UserError, match="latents.npy"):
        run_dir.analyze(tmp_path, model=False)
    r = cli("analyze", tmp_path / "nowhere")
    assert r.returncode == 2 and "not a run directory" in r.stderr


# ---- disentanglement against known factors (the ``shapes`` source) ---------------------
# The oracles are disentanglement_lib's: the true factors used as the code score >= 0.9 on MIG,
# SAP and DCI; an all-zeros code scores <= 0.2. Here they run on the real ``shapes`` factors,
# through :func:`run_dir.disentanglement` (the function every analysed run with factors goes through).

def test_disentanglement_oracles_on_shapes_factors(shapes_ds):
    f = np.stack([shapes_ds.test.extras[k] for k in shapes.FACTORS], axis=1).astype(np.float64)  # [N, 5]
    kinds = shapes_ds.meta["factor_kinds"]
    truth = run_dir.disentanglement(f, f, list(shapes.FACTORS), kinds, np.random.default_rng(0))
    for key in ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"):
        assert truth[key] >= 0.9, (key, truth[key])
    zeros = run_dir.disentanglement(np.zeros_like(f), f, list(shapes.FACTORS), kinds,
                                    np.random.default_rng(0))
    for key in ("mig", "sap", "dci_disentanglement"):
        assert zeros[key] <= 0.2, (key, zeros[key])
    # A rotation of the true factors keeps the information but mixes the units.
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(5, 5)))
    zs = (f - f.mean(0)) / f.std(0)
    mixed = run_dir.disentanglement(zs @ q, f, list(shapes.FACTORS), kinds, np.random.default_rng(0))
    assert mixed["mig"] < truth["mig"] - 0.4 and mixed["dci_disentanglement"] < truth["dci_disentanglement"]
    json.dumps(truth)


def test_analysis_scores_factors_of_a_run(tmp_path):
    """A quick run on shapes gets analysis/disentanglement.json and the factor figure."""
    wd = tmp_path / "run"
    api.run("mnist_dense", workdir=wd, quick=True, overrides=[
        "data.name=shapes", "data.options={\"n\": 1500}", "model.hidden=[64]", "model.latent_dim=6",
        "train.progress=false"])
    dis = json.loads((wd / "analysis" / "disentanglement.json").read_text())
    assert dis["factors"] == list(shapes.FACTORS)
    for key in ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"):
        assert 0.0 <= dis[key] <= 1.0
    assert (wd / "figures" / "latent_factors.png").exists()
    assert "MIG" in (wd / "analysis" / "summary.md").read_text() or "Disentanglement" in \
        (wd / "analysis" / "summary.md").read_text()
