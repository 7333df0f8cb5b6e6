"""course_batchnorm: each course model without and with batch normalization, curves side by side."""
import json

from aejax import api


def test_quick_run_trains_each_pair_and_draws_the_curves(tmp_path):
    summary = api.run("course_batchnorm", quick=True, workdir=tmp_path)
    for model in ("mnist_dense", "mnist_conv"):
        for norm in ("none", "batch"):
            assert summary[f"test/mse/{model}/{norm}"] > 0
            cfg = json.loads((tmp_path / "runs" / f"{model},norm={norm}" / "config.json").read_text())
            assert cfg["model"]["norm"] == norm and cfg["experiment"] == model
    assert (tmp_path / "figures" / "batchnorm_curves.png").exists() and (tmp_path / ".aejax-complete").exists()
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
