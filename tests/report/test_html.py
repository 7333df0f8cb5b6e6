"""aejax.report.html: report.html reads in order (title with the run's settings, summary, the course's
deliverables in the seed's order, the run's other figures, the latent analysis, config), no figure twice."""
import json
import re

from aejax.report.html import write_run_report, write_sweep_report

CFG = {"experiment": "mnist_dense", "seed": 3,
       "model": {"name": "dense", "hidden": [400, 200], "latent_dim": 100},
       "data": {"name": "mnist5k", "noise_std": 0.0},
       "train": {"loss": "mse", "optimizer": "adam_keras", "learning_rate": 1e-3, "batch_size": 256,
                 "epochs": 150, "patience": 0}}


def _run(tmp_path, cfg, figures):
    run = tmp_path / cfg["experiment"] / "default"
    (run / "figures").mkdir(parents=True)
    (run / "analysis").mkdir()
    (run / "config.json").write_text(json.dumps(cfg))
    (run / "summary.json").write_text(json.dumps({"test/mse": 0.01, "stopped": "completed all epochs"}))
    (run / "analysis" / "summary.md").write_text("# Latent notes\n")
    for name in figures:
        (run / "figures" / f"{name}.png").write_bytes(b"")
    return write_run_report(run).read_text()


def test_run_report_reads_in_order(tmp_path):
    page = _run(tmp_path, CFG, ("latent_scree", "test_reconstructions", "loss", "latent_ablation", "test_overview",
                                "test_originals", "test_bottlenecks", "r2"))
    heads = re.findall(r"<h[123]>([^<]*)</h[123]>", page)
    assert heads == ["mnist_dense / default", "Summary", "Figures", "loss", "test_originals", "test_bottlenecks",
                     "test_reconstructions", "test_overview", "r2", "Latent analysis", "Latent notes",
                     "latent_ablation", "latent_scree", "Config"]
    settings = "dense 400-200-100 on mnist5k, mse loss, adam_keras, lr 0.001, batch 256, 150 epochs, seed 3"
    assert f"<title>mnist_dense / default: {settings}</title>" in page and f"<p><b>{settings}</b></p>" in page
    assert "completed all epochs" in page  # why training stopped
    lstm = {**CFG, "model": {"name": "lstm", "hidden": 64, "latent_dim": 16}, "train": {"epochs": 2}}
    assert "<p><b>lstm 64-16 on mnist5k, 2 epochs, seed 3</b></p>" in _run(tmp_path / "lstm", lstm, ())


def test_denoising_report_shows_part_3_in_the_seeds_order(tmp_path):
    cfg = {**CFG, "experiment": "mnist_denoise", "data": {"name": "mnist5k", "noise_std": 0.25}}
    page = _run(tmp_path, cfg, ("test_noisy", "test_denoised", "train_noisy", "loss", "train_clean", "test_clean",
                                "denoise_overview", "test_bottlenecks", "latent_scree"))
    imgs = re.findall(r"<img src='figures/([a-z_]+)\.png'>", page)
    assert imgs == ["train_clean", "train_noisy", "loss", "test_clean", "test_noisy", "test_denoised",
                    "denoise_overview", "test_bottlenecks", "latent_scree"]
    assert "with noise σ=0.25" in page


def test_sweep_report_renders_sweep_md(tmp_path):
    (tmp_path / "sweep.md").write_text("# Sweep: 2 of 2 runs finished\n\nMean ± std.\n\n"
                                       "| seed | test/mse |\n|---|---|\n| 0 | 0.1 <b> |\n")
    page = write_sweep_report(tmp_path).read_text()
    assert "<h2>Sweep: 2 of 2 runs finished</h2>" in page and "<td>0.1 &lt;b&gt;</td>" in page
    assert "<p>Mean ± std.</p>" in page
