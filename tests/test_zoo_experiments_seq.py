"""LSTM on seismic columns and the 2-D VAE end to end (--quick)."""
import json


def test_lstm_seismic_quick(tmp_path, cli):
    out = cli("run", "lstm_seismic", "--quick", "--workdir", tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    s = json.loads((tmp_path / "summary.json").read_text())
    for k in ("test/mse_model", "test/mse_mean_trace", "test/mse_pca", "margin_vs_mean_trace"):
        assert k in s, k
    assert s["params"] > 0 and s["view"] == "columns"
    for f in ("sequence_traces", "sequence_image"):
        assert (tmp_path / "figures" / f"{f}.png").exists(), f


def test_vae_manifold_quick(tmp_path, cli):
    out = cli("run", "vae_manifold", "--quick", "--workdir", tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((tmp_path / "summary.json").read_text())["latent_dim"] == 2
    assert (tmp_path / "figures" / "vae_manifold.png").exists()
