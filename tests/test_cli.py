"""The command line end to end: every experiment's --quick run writes the whole contract."""
from __future__ import annotations

import json
from typing import Callable, NamedTuple

import pytest

from helpers import metrics_rows

CONTRACT = ["config.json", "metrics.jsonl", "summary.json", "checkpoints/latest", "checkpoints/best",
            "analysis/latents.npy", "report.html", "figures/loss.png"]
SUMMARY_KEYS = ["params", "train_examples", "epochs_run", "best_epoch", "wall_s", "time_to_first_step_s",
                "train_samples_per_s", "test/loss", "test/mse"]


class Quick(NamedTuple):
    """What an experiment's --quick run writes beyond :data:`CONTRACT` and :data:`SUMMARY_KEYS`."""
    keys: list            # its own summary.json keys
    figures: list         # figures/NAME.png
    epochs: int = 2       # rows of metrics.jsonl
    check: Callable[[dict, dict], None] | None = None  # (summary, config) -> assertions on the values


def _denoised(s, cfg):
    assert s["test/psnr_noisy"] > 10 and s["test/psnr_denoised"] > 0


def _iwae_bound(s, cfg):
    assert s["test/nll_iw"] <= s["test/neg_elbo_k"] + 1e-6
    assert cfg["data"]["name"] == "binarized:mnist5k"


def _auc(s, cfg):
    assert 0.0 <= s["test/roc_auc"] <= 1.0
    assert s["test/anomaly_fraction"] < 1.0


def _columns_view(s, cfg):
    assert s["params"] > 0 and s["view"] == "columns"


def _two_d(s, cfg):
    assert s["latent_dim"] == 2


COURSE_FIGURES = ["test_originals", "test_bottlenecks", "test_reconstructions"]
QUICK = {
    # the course (aejax.projects.course)
    "mnist_dense": Quick([], COURSE_FIGURES),
    "mnist_conv": Quick([], COURSE_FIGURES),
    "mnist_denoise": Quick(["test/psnr_noisy", "test/psnr_denoised"],
                           ["train_clean", "train_noisy", "test_clean", "test_noisy", "test_denoised"],
                           check=_denoised),
    # the zoo's image experiments: VAE, sparse AE, compression
    "vae_mnist": Quick(["test/neg_elbo", "test/nll_iw", "test/neg_elbo_k", "test/active_units", "test/kl"],
                       ["vae_samples", "vae_traversals", "vae_manifold", "vae_latents"], check=_iwae_bound),
    "ae_sparse": Quick(["test/code_mean", "test/code_active", "test/rec", "test/sparsity"], ["test_reconstructions"]),
    "ae_compression": Quick(["test/mse_float", "test/mse_4bit", "test/pca_mse_float", "code_dim"], ["compression"]),
    # the zoo's applications: anomaly detection, denoising
    "ae_anomaly": Quick(["test/roc_auc", "test/score_normal", "test/score_anomaly"], ["anomaly_scores", "anomaly_roc"],
                        check=_auc),
    "seismic_anomaly": Quick(["test/roc_auc"], ["anomaly_scores", "anomaly_roc"], check=_auc),
    "ae_denoising": Quick(["test/psnr_noisy", "test/recon_psnr", "test/recon_mse", "code_dim"], ["test_denoised"],
                          epochs=1),
    # the zoo's LSTM on seismic columns and the 2-D VAE
    "lstm_seismic": Quick(["test/mse_model", "test/mse_mean_trace", "test/mse_pca", "margin_vs_mean_trace"],
                          ["sequence_traces", "sequence_image"], check=_columns_view),
    "vae_manifold": Quick(["latent_dim"], ["vae_manifold"], check=_two_d),
}


@pytest.mark.parametrize("experiment", sorted(QUICK))
def test_quick_run_writes_the_run_directory_contract(experiment, tmp_path, cli):
    want = QUICK[experiment]
    out = cli("run", experiment, "--quick", "--workdir", tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    for rel in CONTRACT + [f"figures/{f}.png" for f in want.figures]:
        assert (tmp_path / rel).exists(), rel
    summary = json.loads((tmp_path / "summary.json").read_text())
    for key in SUMMARY_KEYS + want.keys:
        assert key in summary, key
    if want.check is not None:
        want.check(summary, json.loads((tmp_path / "config.json").read_text()))
    rows = metrics_rows(tmp_path)
    assert [r["epoch"] for r in rows] == list(range(1, want.epochs + 1))
    assert {"epoch", "step", "train/loss", "val/loss"} <= set(rows[0])
    # A second run over the finished directory resumes: no new epochs.
    again = cli("run", experiment, "--quick", "--workdir", tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == want.epochs


def test_unknown_set_key_exits_2_naming_it(tmp_path, cli):
    out = cli("run", "mnist_dense", "--quick", "--workdir", tmp_path, "--set", "train.epoch=3")
    assert out.returncode == 2
    assert "train.epoch" in out.stderr and "Traceback" not in out.stderr


def test_bad_values_exit_2(tmp_path, cli):
    for setting, needle in (("train.loss=hinge", "train.loss"), ("data.name=nope", "data.name='nope'"),
                            ("train.optimizer=adamx", "train.optimizer"),
                            ("train.lr_schedule=linear", "train.lr_schedule"),
                            ("train.warmup_epochs=-1", "train.warmup_epochs"),
                            ("model.kernel_init=xavier", "model.kernel_init")):
        out = cli("run", "mnist_dense", "--quick", "--workdir", tmp_path, "--set", setting)
        assert out.returncode == 2, (setting, out.stderr[-2000:])
        assert needle in out.stderr and "Traceback" not in out.stderr


def test_unknown_experiment_exits_2(cli):
    out = cli("run", "no_such_experiment")
    assert out.returncode == 2 and "mnist_dense" in out.stderr


def test_list(cli):
    out = cli("list")
    assert out.returncode == 0
    for name in ("mnist_dense", "mnist_conv", "mnist_denoise", "mnist5k", "digits", "idx:ARG", "tfds:ARG"):
        assert name in out.stdout
