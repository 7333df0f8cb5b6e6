"""The zoo's application experiments end to end (--quick): anomaly detection, denoising."""
import json

import pytest

CASES = {
    "ae_anomaly": (["test/roc_auc", "test/score_normal", "test/score_anomaly"], ["anomaly_scores", "anomaly_roc"]),
    "seismic_anomaly": (["test/roc_auc"], ["anomaly_scores", "anomaly_roc"]),
    "ae_denoising": (["test/psnr_noisy", "test/recon_psnr", "test/recon_mse", "code_dim"], ["test_denoised"]),
}


@pytest.mark.parametrize("experiment", sorted(CASES))
def test_quick_run(experiment, tmp_path, cli):
    out = cli("run", experiment, "--quick", "--workdir", tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    keys, figures = CASES[experiment]
    summary = json.loads((tmp_path / "summary.json").read_text())
    for k in keys:
        assert k in summary, k
    for f in figures:
        assert (tmp_path / "figures" / f"{f}.png").exists(), f
    if "roc_auc" in keys[0]:
        assert 0.0 <= summary["test/roc_auc"] <= 1.0
        assert summary["test/anomaly_fraction"] < 1.0


def test_unknown_zoo_type_exits_2(tmp_path, cli):
    out = cli("run", "ae_anomaly", "--quick", "--workdir", tmp_path, "--set", "zoo.type=gan")
    assert out.returncode == 2 and "zoo.type" in out.stderr and "Traceback" not in out.stderr
