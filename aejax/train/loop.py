"""THE training loop, for 1..N runs trained side by side, with one policy for all of them.

One run (data parallel over a mesh or with pmap), S seeds of one configuration
(vmapped), and M configurations x S seeds (vmapped over the seeds, unrolled
over the configurations) are the same loop over different :class:`Programs`.
Per run ("member"), every case gets the same rules:

- evaluation on the validation split after every epoch;
- early stopping after ``patience`` epochs without a strict improvement of
  ``val/loss`` (0: never); the best state is the one of the lowest ``val/loss``;
- divergence: a non-finite train or val loss stops that run (its metrics row is written, the
  last good epoch's state saved if no checkpoint holds it yet) and is reported; the others go on;
- checkpoints: ``latest`` and ``best`` after the first epoch, then at most every
  ``checkpoint_every_s`` seconds, when a run stops, at the end, on divergence (the last good
  epoch) and on SIGTERM / SIGINT (after finishing the epoch, then :class:`Interrupted`);
- ``metrics.jsonl``: one row appended per run and epoch, as it happens; then ``on_epoch(i, row, params)``
  is called (live sinks such as TensorBoard, a tuner's pruner; ``params()`` returns run ``i``'s
  current parameters, valid during the call only): a string it returns stops run ``i`` with that
  reason, as early stopping would;
- resume: every run restores its own ``latest`` / ``best`` checkpoint and goes on
  from its own epoch (a run ahead of the others waits for them).

Python runs once per epoch, never per step: an epoch is one compiled program and
its metrics come back in one transfer, which early stopping needs anyway.
"""
from __future__ import annotations

import math
import signal
import sys
import threading
import time
from typing import Any, Callable, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from aejax.errors import Interrupted
from aejax.train.checkpoint import Checkpoints
from aejax.train.step import fetch


class Programs(Protocol):
    """Compiled programs and device data for ``n`` runs trained side by side."""

    n: int

    def epoch(self, state, epoch: int, active: np.ndarray) -> tuple[Any, dict]:
        """One epoch of every active run -> (state, {metric: [n]} on device)."""

    def validate(self, state) -> dict:
        """{metric: [n]}: each run's mean over its validation split."""

    def keep_best(self, improved: np.ndarray, state, best):
        """A new pytree: ``state`` for the runs in ``improved``, ``best`` for the others."""

    def steps(self, state) -> np.ndarray:
        """Each run's optimizer step count [n]."""

    def member(self, state, i: int):
        """Run ``i``'s own TrainState (for its checkpoint)."""

    def set_member(self, state, i: int, value):
        """``state`` with run ``i``'s part replaced by ``value`` (a resumed run)."""

    def member_abstract(self, i: int):
        """Shapes / shardings of run ``i``'s TrainState (to restore its checkpoint)."""


OnEpoch = Callable[[int, dict, Callable[[], Any]], "str | None"]


class RunFiles(Protocol):
    """What the loop writes for one run (the run directory implements it)."""

    path: Any
    checkpoints: Checkpoints

    def append_metrics(self, row: dict) -> None: ...

    def keep_metrics_through(self, epoch: int) -> None: ...


def new_loop() -> dict:
    """A run's loop record (kept in its checkpoints): epochs done, best val/loss and its epoch,
    epochs without improvement, training time and samples, why it stopped ('' while running)."""
    return {"epoch": 0, "best_val": math.inf, "best_epoch": 0, "bad_epochs": 0,
            "train_s": 0.0, "train_samples": 0, "stopped": ""}


def _finite_or_none(v):
    return v if not isinstance(v, float) or math.isfinite(v) else None


def record_epoch(loop: dict, epoch: int, step: int, train: dict, val: dict, epoch_s: float, *,
                 patience: int, samples: int) -> tuple[dict, str]:
    """One epoch of one run by the loop's rules: its metrics.jsonl row, and ``loop`` updated.

    Returns ``(row, outcome)``: ``"diverged"`` (a non-finite train or val loss; ``loop`` is left
    as it was, ``row`` has None for it), ``"improved"`` (val/loss strictly below the best so far)
    or ``""``; ``loop["stopped"]`` is set once ``patience`` epochs pass without improvement (0: never).
    """
    row = {"epoch": epoch, "step": int(step),
           **{f"train/{k}": _finite_or_none(v) for k, v in train.items()},
           **{f"val/{k}": _finite_or_none(v) for k, v in val.items()},
           "epoch_s": round(epoch_s, 4)}
    if not (math.isfinite(train["loss"]) and math.isfinite(val["loss"])):
        return row, "diverged"
    loop["train_s"] += epoch_s
    loop["train_samples"] += samples
    loop["epoch"] = epoch
    if val["loss"] < loop["best_val"]:
        loop.update(best_val=val["loss"], best_epoch=epoch, bad_epochs=0)
        return row, "improved"
    loop["bad_epochs"] += 1
    if patience and loop["bad_epochs"] >= patience:
        loop["stopped"] = f"early stopping: no val/loss improvement in {patience} epochs"
    return row, ""


def restore(programs: Programs, state, best, runs: Sequence[RunFiles | None]) -> tuple[Any, Any, list[dict]]:
    """Every run with a ``latest`` checkpoint continues from it (its ``best`` too); the others
    start from ``state``; a slot without a run (None) never trains. Returns (state, best, loop records)."""
    loops = []
    for i, run in enumerate(runs):
        if run is None:  # a slot of the program with no run to train (e.g. finished earlier)
            loops.append({**new_loop(), "stopped": "not trained in this program"})
            continue
        ckpt = run.checkpoints
        if ckpt.latest_epoch() is None:
            loops.append(new_loop())
            run.keep_metrics_through(0)
            continue
        abstract = programs.member_abstract(i)
        latest, loop = ckpt.restore("latest", abstract)
        # `best` at exactly the epoch the loop record names (never a newer or older one).
        best_i = ckpt.restore("best", abstract, epoch=loop["best_epoch"])[0] if loop["best_epoch"] else latest
        state = programs.set_member(state, i, latest)
        best = programs.set_member(best, i, best_i)
        run.keep_metrics_through(loop["epoch"])
        loops.append(loop)
        if jax.process_index() == 0:
            print(f"resuming {run.path} after epoch {loop['epoch']}"
                  + (f" ({loop['stopped']})" if loop["stopped"] else ""), file=sys.stderr)
    return state, best, loops


def fit(programs: Programs, state, best, loops: list[dict], runs: Sequence[RunFiles], *, epochs: int,
        patience: int, samples_per_epoch: int, checkpoint_every_s: float = 30.0, progress: bool = True,
        stop_after_epoch: int | None = None, on_epoch: OnEpoch | None = None) -> tuple[Any, Any, dict[int, str]]:
    """Train every run until ``epochs``, early stopping or divergence (see the module docstring).

    ``state`` / ``best`` / ``loops`` as :func:`restore` returns them; ``runs[i]`` are run i's files.
    Returns ``(state, best, diverged)``, ``diverged`` mapping a run's index to its message.
    ``stop_after_epoch`` ends the call after that epoch, as if the process were killed there
    (tests use it to check resume). ``on_epoch(i, row, params)``: called after each of run i's rows
    is written (``params()``: run i's parameters after that epoch); a string it returns stops that
    run with that reason. ``loops`` are updated in place.
    """
    n = programs.n
    diverged: dict[int, str] = {}
    active = np.array([not lp["stopped"] for lp in loops])
    start = min([lp["epoch"] for lp, a in zip(loops, active) if a], default=epochs) + 1
    saved = np.array([lp["epoch"] for lp in loops])  # the epoch of each run's newest checkpoint
    bar = _progress(progress, start, epochs)
    with _Deferred() as signals:
        state, best = _epochs(programs, state, best, loops, runs, diverged, active, saved, bar, signals,
                              start=start, epochs=epochs, patience=patience, samples_per_epoch=samples_per_epoch,
                              checkpoint_every_s=checkpoint_every_s, stop_after_epoch=stop_after_epoch,
                              on_epoch=on_epoch)
    if bar:
        early = [lp for lp in loops if lp["stopped"] and lp["epoch"] < epochs
                 and lp["stopped"] != "not trained in this program"]  # early stopping, a pruner, ...
        if early and n == 1:  # the bar ends short of 100 %: say why
            bar.set_postfix_str(f"{early[0]['stopped']} (best epoch {early[0]['best_epoch']})")
        elif early:
            bar.set_postfix_str(f"{len(early)} of {n} runs stopped early")
        bar.close()
    for run in runs:
        if run is not None:
            run.checkpoints.wait()
    return state, best, diverged


def _epochs(programs, state, best, loops, runs, diverged, active, saved, bar, signals, *, start, epochs,
            patience, samples_per_epoch, checkpoint_every_s, stop_after_epoch, on_epoch):
    n = programs.n
    last_save = time.perf_counter()
    for epoch in range(start, epochs + 1):
        # A resumed run that is ahead of the others sits out until they catch up.
        now = active & np.array([lp["epoch"] < epoch for lp in loops])
        if not active.any():
            break
        t0 = time.perf_counter()
        # The state before this epoch, saved if a run diverges in it, is needed only while some run's
        # is neither in a checkpoint nor in `best` (a run that just improved has it there already).
        unsaved = [i for i in np.flatnonzero(now) if loops[i]["epoch"] > saved[i]]
        prev = jax.tree.map(jnp.copy, state) if any(loops[i]["best_epoch"] != loops[i]["epoch"]
                                                     for i in unsaved) else None
        state, train_m = programs.epoch(state, epoch, now)
        val_m = programs.validate(state)
        train_m, val_m, steps = fetch((train_m, val_m, programs.steps(state)))  # the epoch's one sync
        epoch_s = time.perf_counter() - t0
        improved = np.zeros(n, bool)
        stopped_now = []
        for i in np.flatnonzero(now):
            tm = {k: float(v[i]) for k, v in train_m.items()}
            vm = {k: float(v[i]) for k, v in val_m.items()}
            row, outcome = record_epoch(loops[i], epoch, steps[i], tm, vm, epoch_s, patience=patience,
                                        samples=samples_per_epoch)
            runs[i].append_metrics(row)
            if outcome == "diverged":
                ckpt = runs[i].checkpoints
                if loops[i]["epoch"] > saved[i]:  # keep the last good epoch
                    _save(programs, ckpt, best if prev is None else prev, best, loops[i], int(i))
                    saved[i] = loops[i]["epoch"]
                kept = (f"the last good checkpoints are kept in {ckpt.directory} (latest: epoch "
                        f"{ckpt.latest_epoch()}, best: epoch {ckpt.latest_epoch('best')})"
                        if ckpt.latest_epoch() is not None else "no checkpoint was written (nothing good to keep)")
                diverged[int(i)] = (
                    f"{runs[i].path}: epoch {epoch}: the loss is not finite (train/loss={tm['loss']}, "
                    f"val/loss={vm['loss']}); training stopped, {kept}. Try a lower train.learning_rate.")
                if jax.process_index() == 0:
                    print(f"aejax: {diverged[int(i)]}", file=sys.stderr)
                active[i] = False
                continue
            improved[i] = outcome == "improved"
            reason = (on_epoch(int(i), row, lambda i=int(i): programs.member(state, i).params)
                      if on_epoch is not None else None)
            if reason and not loops[i]["stopped"]:
                loops[i]["stopped"] = str(reason)
            if loops[i]["stopped"] or epoch == epochs:
                active[i] = False
                stopped_now.append(int(i))
        if improved.any():
            best = programs.keep_best(improved, state, best)  # the live state is donated next epoch
        if bar:
            live = np.flatnonzero(now)
            bar.set_postfix_str(f"train {train_m['loss'][live].mean():.5f} val {val_m['loss'][live].mean():.5f}"
                                + (f" ({int(active.sum())} of {n} runs training)" if n > 1 else ""))
            bar.update(1)
        due = (time.perf_counter() - last_save >= checkpoint_every_s or epoch == stop_after_epoch
               or not active.any() or signals.signum is not None)
        if jax.process_count() > 1:  # saves are collective: every process must decide alike
            due, signals.signum = _agree(due, signals.signum)
        save = [i for i in np.flatnonzero(now) if int(i) not in diverged
                and (due or int(i) in stopped_now or saved[i] == 0)]
        for i in save:
            _save(programs, runs[i].checkpoints, state, best, loops[i], int(i))
            saved[i] = loops[i]["epoch"]
        if due:
            last_save = time.perf_counter()
        if signals.signum is not None:
            if bar:
                bar.close()
            name = signal.Signals(signals.signum).name
            where = runs[0].path if n == 1 else f"{len(save)} runs"
            raise Interrupted(signals.signum, f"{name}: stopped after epoch {epoch}, checkpoints saved "
                                              f"({where}); rerun the same command to resume")
        if epoch == stop_after_epoch:
            break
    return state, best


class _Deferred:
    """SIGINT / SIGTERM while training: remember the signal and stop at the end of the epoch,
    after saving (a second SIGINT stops at once). Main thread only; elsewhere a no-op."""

    signum = None

    def __enter__(self):
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        print(f"\naejax: {signal.Signals(signum).name}: saving after this epoch (SIGINT again to stop at once)",
              file=sys.stderr)

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


def _save(programs: Programs, ckpt: Checkpoints, state, best, loop: dict, i: int) -> None:
    """Run ``i``'s checkpoints: ``best`` first, so a ``latest`` always has its ``best_epoch`` saved."""
    if loop["best_epoch"] > 0 and loop["best_epoch"] not in ckpt.epochs("best"):
        ckpt.save("best", loop["best_epoch"], programs.member(best, i), loop)
    ckpt.save("latest", loop["epoch"], programs.member(state, i), loop)




def _agree(due: bool, signum: int | None) -> tuple[bool, int | None]:
    """Over every process of a multi-process run: whether any is due to save, and a signal any got
    (each process times its own epochs and gets its own signals; the checkpoint saves that follow
    are collective, so every process must take the same decision)."""
    from jax.experimental import multihost_utils
    votes = np.asarray(multihost_utils.process_allgather(np.array([int(due), signum or 0], np.int32)))
    votes = votes.reshape(-1, 2)
    return bool(votes[:, 0].any()), (int(votes[:, 1].max()) or None)


def _progress(enabled: bool, start: int, total: int):
    if not enabled or start > total:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=start - 1, unit="epoch", desc="train", file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5)
