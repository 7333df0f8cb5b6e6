"""The zoo's image experiments end to end (--quick): VAE, sparse AE, compression."""
import json

import pytest

CASES = {
    "vae_mnist": (["test/neg_elbo", "test/nll_iw", "test/neg_elbo_k", "test/active_units", "test/kl"],
                  ["vae_samples", "vae_traversals", "vae_manifold", "vae_latents"]),
    "ae_sparse": (["test/code_mean", "test/code_active", "test/rec", "test/sparsity"], ["test_reconstructions"]),
    "ae_compression": (["test/mse_float", "test/mse_4bit", "test/pca_mse_float", "code_dim"], ["compression"]),
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
    assert (tmp_path / "report.html").exists()
    if experiment == "vae_mnist":
        assert summary["test/nll_iw"] <= summary["test/neg_elbo_k"] + 1e-6
        assert json.loads((tmp_path / "config.json").read_text())["data"]["name"] == "binarized:mnist5k"
