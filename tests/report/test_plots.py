"""aejax.report.plots: a run's figures; a denoising run draws each image row once."""
import json

import numpy as np

from aejax.report import plots
from aejax.run.rundir import RunDir


def _run_dir(tmp_path, noise):
    cfg = {"model": {"name": "dense"}, "data": {"name": "digits", "noise_std": noise}, "train": {"loss": "mse"}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "train/loss": 0.2, "val/loss": 0.1}) + "\n")
    (tmp_path / "analysis").mkdir()
    x = np.random.default_rng(0).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    RunDir(tmp_path).write_examples({"test_x": x, "test_input": x, "test_code": x.reshape(3, -1)[:, :4],
                                     "test_recon": x, "train_x": x, "train_input": x}, x.reshape(3, -1))
    return tmp_path


def test_denoising_figures_are_the_deliverables_without_duplicates(tmp_path):
    made = [p.stem for p in plots.run_figures(_run_dir(tmp_path, 0.25))]
    assert sorted(made) == sorted(plots.DELIVERABLES[True])
    assert not (tmp_path / "figures" / "test_originals.png").exists()  # = test_clean
    assert not (tmp_path / "figures" / "test_reconstructions.png").exists()  # = test_denoised


def test_plain_run_figures(tmp_path):
    made = [p.stem for p in plots.run_figures(_run_dir(tmp_path, 0.0))]
    assert sorted(made) == sorted(plots.DELIVERABLES[False])
