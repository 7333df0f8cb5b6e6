"""aejax.train.loop: the policies of the one loop over a group of runs: a run stops on its own (early
stopping, divergence) while the others train on, and saves its checkpoints when it stops."""
import jax.numpy as jnp
import numpy as np

from aejax.run.rundir import RunDir
from aejax.train import loop
from helpers import digits_group


class _Files:
    """In-memory run files: metrics rows and real checkpoints in a temporary folder."""

    def __init__(self, path):
        self.path, self.rows, self.rd = path, [], RunDir(path)
        self.checkpoints = self.rd.checkpoints

    def append_metrics(self, row):
        self.rows.append(row)

    def keep_metrics_through(self, epoch):
        self.rows = [r for r in self.rows if r["epoch"] <= epoch]


def _fit_with_fake_val(monkeypatch, tmp_path, fake: dict, epochs: int, patience: int = 0, on_epoch=None):
    """Training runs for real; validation reports ``fake[epoch]`` (one loss per seed)."""
    _, programs, _, _, _ = digits_group([0, 1], noise=0.0)
    epoch = [0]
    real_epoch = programs.epoch

    def counting_epoch(*a, **kw):
        epoch[0] += 1
        return real_epoch(*a, **kw)

    monkeypatch.setattr(programs, "epoch", counting_epoch)
    monkeypatch.setattr(programs, "validate", lambda state: {"loss": jnp.asarray(fake[epoch[0]])})
    runs = [_Files(tmp_path / f"s{i}") for i in range(2)]
    state, best = programs.init()
    state, best, loops = loop.restore(programs, state, best, runs)
    state, best, diverged = loop.fit(programs, state, best, loops, runs, epochs=epochs, patience=patience,
                                     samples_per_epoch=1, progress=False, on_epoch=on_epoch)
    for r in runs:
        r.rd.close()
    return programs, state, best, loops, diverged, runs


def test_early_stopping_freezes_one_seed_and_the_other_trains_on(monkeypatch, tmp_path):
    # Seed 0's validation loss rises after epoch 1, seed 1's keeps falling.
    fake = {1: [1.0, 1.0], 2: [2.0, 0.5], 3: [3.0, 0.4], 4: [4.0, 0.3]}
    programs, state, best, loops, _, runs = _fit_with_fake_val(monkeypatch, tmp_path, fake, 4, patience=1)
    assert [len(r.rows) for r in runs] == [2, 4]
    assert [lp["epoch"] for lp in loops] == [2, 4] and [lp["best_epoch"] for lp in loops] == [1, 4]
    assert "early stopping" in loops[0]["stopped"]
    steps = np.asarray(programs.steps(state))
    assert steps[1] == 2 * steps[0]  # seed 0's state froze after epoch 2
    # Best states: seed 0's from epoch 1 (a fresh copy, not the frozen state).
    assert int(programs.member(best, 0).step) == steps[0] // 2 and int(programs.member(best, 1).step) == steps[1]
    # Each stopped run saved its checkpoints when it stopped.
    assert [r.checkpoints.latest_epoch() for r in runs] == [2, 4]
    assert [r.checkpoints.latest_epoch("best") for r in runs] == [1, 4]


def test_a_diverged_seed_stops_and_the_other_trains_on(monkeypatch, tmp_path, capsys):
    fake = {1: [1.0, 1.0], 2: [np.nan, 0.5], 3: [0.1, 0.4]}  # seed 0's val/loss is NaN at epoch 2
    _, _, _, loops, diverged, runs = _fit_with_fake_val(monkeypatch, tmp_path, fake, 3)
    assert list(diverged) == [0] and "epoch 2: the loss is not finite" in diverged[0]
    assert "latest: epoch 1" in diverged[0] and "aejax: " in capsys.readouterr().err
    assert runs[0].rows[1]["val/loss"] is None and len(runs[0].rows) == 2 and runs[1].rows[2]["epoch"] == 3
    assert runs[0].checkpoints.latest_epoch() == 1 and loops[1]["epoch"] == 3


def test_on_epoch_sees_every_row_and_can_stop_one_run(monkeypatch, tmp_path):
    # A pruner's view: run 1 is stopped after epoch 2; run 0 trains on; both keep their checkpoints.
    fake = {1: [1.0, 1.0], 2: [0.9, 0.9], 3: [0.8, 0.8], 4: [0.7, 0.7]}
    seen = []

    def on_epoch(i, row, params):
        assert callable(params)
        seen.append((i, row["epoch"], row["val/loss"]))
        return "pruned" if i == 1 and row["epoch"] == 2 else None

    _, _, _, loops, _, runs = _fit_with_fake_val(monkeypatch, tmp_path, fake, 4, on_epoch=on_epoch)
    assert [(i, e) for i, e, _ in seen] == [(0, 1), (1, 1), (0, 2), (1, 2), (0, 3), (0, 4)]
    assert [lp["epoch"] for lp in loops] == [4, 2] and loops[1]["stopped"] == "pruned"
    assert [r.checkpoints.latest_epoch() for r in runs] == [4, 2]
