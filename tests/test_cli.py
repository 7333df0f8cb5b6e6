"""The command line end to end: every experiment's --quick run writes the whole contract."""
import json

import pytest

CONTRACT = ["config.json", "metrics.jsonl", "summary.json", "checkpoints/latest", "checkpoints/best",
            "analysis/latents.npy", "report.html", "figures/loss.png"]
SUMMARY_KEYS = ["params", "train_examples", "epochs_run", "best_epoch", "wall_s", "time_to_first_step_s",
                "train_samples_per_s", "test/loss", "test/mse"]
FIGURES = {
    "mnist_dense": ["test_originals", "test_bottlenecks", "test_reconstructions"],
    "mnist_conv": ["test_originals", "test_bottlenecks", "test_reconstructions"],
    "mnist_denoise": ["train_clean", "train_noisy", "test_clean", "test_noisy", "test_denoised"],
}


@pytest.mark.parametrize("experiment", sorted(FIGURES))
def test_quick_run_writes_the_run_directory_contract(experiment, tmp_path, cli):
    out = cli("run", experiment, "--quick", "--workdir", tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    for rel in CONTRACT + [f"figures/{f}.png" for f in FIGURES[experiment]]:
        assert (tmp_path / rel).exists(), rel
    summary = json.loads((tmp_path / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert key in summary, key
    if experiment == "mnist_denoise":
        assert summary["test/psnr_noisy"] > 10 and summary["test/psnr_denoised"] > 0
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"epoch", "step", "train/loss", "val/loss"} <= set(rows[0])
    # A second run over the finished directory resumes: no new epochs.
    again = cli("run", experiment, "--quick", "--workdir", tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


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
