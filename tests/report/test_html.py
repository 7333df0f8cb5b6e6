"""aejax.report.html: report.html reads in order (summary, the run's figures, the latent analysis, config)."""
import json
import re

from aejax.report.html import write_run_report


def test_run_report_reads_in_order(tmp_path):
    run = tmp_path / "mnist_dense" / "default"
    (run / "figures").mkdir(parents=True)
    (run / "analysis").mkdir()
    (run / "config.json").write_text(json.dumps({"experiment": "mnist_dense", "model": {}, "train": {}}))
    (run / "summary.json").write_text(json.dumps({"test/mse": 0.01}))
    (run / "analysis" / "summary.md").write_text("# Latent notes\n")
    for name in ("latent_scree", "test_reconstructions", "loss", "latent_ablation", "test_overview", "test_originals"):
        (run / "figures" / f"{name}.png").write_bytes(b"")
    page = write_run_report(run).read_text()
    heads = re.findall(r"<h[123]>([^<]*)</h[123]>", page)
    assert heads == ["mnist_dense / default", "Summary", "Figures", "loss", "test_overview", "test_originals",
                     "test_reconstructions", "Latent analysis", "Latent notes", "latent_ablation", "latent_scree",
                     "Config"]
    assert "<title>mnist_dense / default</title>" in page
