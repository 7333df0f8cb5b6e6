"""Latent analysis across the seeds of a sweep (aejax.analysis.sweep_dir via after_sweep)."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from aejax import api
from aejax.analysis import sweep_dir
from aejax.errors import UserError

EXPERIMENT = textwrap.dedent('''
    """Tiny seed sweep for the test: dense 64-32-6-32-64 on digits."""
    from aejax.config import base_config


    def get_config():
        cfg = base_config()
        cfg["data"]["name"] = "digits"
        cfg["model"] = {"name": "dense", "hidden": [32], "latent_dim": 6, "latent_activation": "linear"}
        cfg["train"].update(epochs=6, batch_size=64, learning_rate=3e-3, progress=False)
        return cfg


    def sweep(quick=False):
        from aejax import hyper
        return hyper.sweep("seed", [0, 1])


    def after_sweep(*, sweep_dir, configs, rows):
        from aejax.analysis.sweep_dir import analyze_sweep
        analyze_sweep(sweep_dir, configs)
''')


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    exp = root / "tiny_seeds.py"
    exp.write_text(EXPERIMENT)
    out = api.sweep(str(exp), workdir=root / "sweep")
    return out


def test_seed_analysis_files(swept):
    res = json.loads((swept / "analysis" / "latent_seeds.json").read_text())
    assert len(res["groups"]) == 1
    g = res["groups"][0]
    assert g["n_seeds"] == 2 and g["d"] == 6
    assert len(g["eigenvalues_mean"]) == 6 and len(g["eigenvalues_std"]) == 6
    assert np.sum(g["evr_mean"]) == pytest.approx(1.0)
    assert len(g["modes_90"]["values"]) == 2
    per_k = g["agreement"]["per_k"]
    assert [p["k"] for p in per_k] == [1, 2, 3, 5]
    for p in per_k:
        assert 0.0 <= p["overlap"] <= 1.0 + 1e-9 and p["overlap"] > p["random_overlap"]
    # Two seeds encode the same inputs: their top-5 subspaces overlap far more than random ones.
    assert per_k[-1]["overlap"] > 0.5 > 20 * per_k[-1]["random_overlap"]
    assert -1.0 <= g["agreement"]["unit_importance_spearman"]["mean"] <= 1.0
    assert 0.0 < g["agreement"]["unit_best_match_corr"]["mean"] <= 1.0
    assert (swept / "figures" / "latent_spectra_seeds.png").exists()
    assert (swept / "figures" / "latent_subspace_seeds.png").exists()
    page = (swept / "report.html").read_text()
    assert "Latent spaces across seeds" in page


def test_subspace_agreement_is_rotation_invariant(swept):
    """Same codes up to a rotation agree perfectly; independent noise does not."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 6)) * np.array([5, 4, 3, 2, 1, 0.5])
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    a = sweep_dir._pair_stats([z, z @ q], [1, 2, 3], [None, None])
    assert all(p["overlap"] == pytest.approx(1.0, abs=1e-6) for p in a["per_k"])
    b = sweep_dir._pair_stats([z, rng.normal(size=(400, 6))], [3], [None, None])
    assert b["per_k"][0]["overlap"] < 0.1


def test_no_runs(tmp_path):
    with pytest.raises(UserError, match="no analysed run"):
        sweep_dir.analyze_sweep(tmp_path)
