"""Orbax checkpoints behind one small class: ``latest`` (resume) and ``best`` (evaluate).

Layout: ``checkpoints/latest/<epoch>/`` and ``checkpoints/best/<epoch>/``, each an orbax
``CheckpointManager``: ``latest`` keeps the two newest steps, ``best`` the newest and the ones
the kept ``latest`` steps name as their best epoch. A step holds ``state`` (the train-state
pytree: step, params, optimizer state; ``args.StandardSave``) and ``loop`` (JSON: epoch, best
value and epoch, patience counter, elapsed time), so a resumed run continues exactly where it
stopped.

Trust: each step is saved synchronously and then sealed with a SHA-256 of its files
(``<epoch>.sha256`` beside it: the digest and the step's best epoch). A step whose files do not
match its seal (flipped bytes, a truncated file, a save cut short by a kill) is never restored:
``latest`` falls back to the previous step with a message, and ``best`` is restored at exactly
the epoch the loop record names, so it always holds ``best_epoch``'s weights.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from aejax.errors import RunFailed, UserError

KINDS = ("latest", "best")


def _write_failure(e: BaseException) -> str | None:
    """Why a save failed when the filesystem refused a write (a full disk, no permission, a
    read-only mount), in a few words; None for any other error."""
    text = str(e)
    for needle, reason in (("No space left", "no space left on device"), ("RESOURCE_EXHAUSTED", "disk full"),
                           ("Read-only file system", "read-only file system"),
                           ("Permission denied", "permission denied"), ("PERMISSION_DENIED", "permission denied")):
        if needle in text:
            return reason
    if isinstance(e, OSError):
        return e.strerror or text.splitlines()[0][:200]
    return None


class Checkpoints:
    """Save / restore the latest and the best train state of one run directory."""

    def __init__(self, directory: Path, *, this_process_only: bool = False):
        """``this_process_only``: in a multi-process run, read (or write) without the other processes
        (the analysis after training); by default every process takes part in each save and restore,
        through orbax's multi-host path, and process 0 writes the seals."""
        self.directory = Path(directory).absolute()
        many = jax.process_count() > 1
        self._shared = many and not this_process_only  # saves and restores are collective
        self._primary = jax.process_index() == 0 or not self._shared
        extra = {}
        if many and this_process_only:
            me = jax.process_index()
            extra = {"multiprocessing_options": ocp.options.MultiprocessingOptions(primary_host=me,
                                                                                   active_processes={me})}
            for kind in KINDS:
                (self.directory / kind).mkdir(parents=True, exist_ok=True)
        # `latest` keeps two steps; `best` keeps the newest and every step a kept `latest` names
        # (pruned in save), so a fallback to the previous `latest` finds its best_epoch.
        self._managers = {kind: ocp.CheckpointManager(self.directory / kind, options=ocp.CheckpointManagerOptions(
            max_to_keep=2 if kind == "latest" else None, create=not extra, **extra)) for kind in KINDS}

    def _barrier(self, name: str) -> None:
        """Every process of a multi-process run waits here (after process 0 wrote or deleted a seal)."""
        if self._shared:
            from jax.experimental import multihost_utils
            multihost_utils.sync_global_devices(f"aejax checkpoints {name}")

    def save(self, kind: str, epoch: int, state: Any, loop: dict) -> None:
        """Save ``state`` (pytree of arrays) and ``loop`` (JSON dict) as step ``epoch``, then seal it."""
        mgr = self._managers[kind]
        mgr.reload()
        if epoch in mgr.all_steps():  # a resumed run replaying an epoch saved before the kill
            self._barrier(f"replay {kind} {epoch}")
            if self._primary:
                (self.directory / kind / f"{epoch}.sha256").unlink(missing_ok=True)
            mgr.delete(epoch)
        try:
            mgr.save(epoch, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                    loop=ocp.args.JsonSave(loop)), force=True)
            mgr.wait_until_finished()
        except Exception as e:  # noqa: BLE001 - TensorStore reports a failed write as a ValueError
            reason = _write_failure(e)
            if reason is None:
                raise
            raise RunFailed(f"{self.directory / kind}: cannot write the checkpoint of epoch {epoch} ({reason}); "
                            "the checkpoints saved before it are kept. Free space (or mend the disk) and rerun "
                            "the same command to resume") from e
        if self._primary:
            seal = self.directory / kind / f"{epoch}.sha256"
            tmp = seal.with_suffix(".tmp")
            tmp.write_text(_digest(self.directory / kind / str(epoch)) + f" {int(loop['best_epoch'])}\n")
            tmp.replace(seal)
            for old in (self.directory / kind).glob("*.sha256"):  # seals of steps orbax no longer keeps
                if old.stem.isdigit() and not (self.directory / kind / old.stem).is_dir():
                    old.unlink()
        self._barrier(f"sealed {kind} {epoch}")
        if kind == "latest":
            self._prune_best()

    def _prune_best(self) -> None:
        """Delete `best` steps that neither are the newest nor are named by a kept `latest`."""
        named = {int(p.read_text().split()[1]) for p in (self.directory / "latest").glob("*.sha256")
                 if len(p.read_text().split()) > 1}
        stale = [step for step in self.epochs("best")[:-1] if step not in named]
        self._barrier("pruning best")  # every process has read the seals
        for step in stale:
            if self._primary:
                (self.directory / "best" / f"{step}.sha256").unlink(missing_ok=True)
            self._managers["best"].delete(step)

    def epochs(self, kind: str = "latest") -> list[int]:
        """The sealed (complete, intact when written) epochs of ``kind``, oldest first."""
        self._managers[kind].reload()
        return [s for s in sorted(self._managers[kind].all_steps())
                if (self.directory / kind / f"{s}.sha256").exists()]

    def latest_epoch(self, kind: str = "latest") -> int | None:
        """The newest sealed epoch of ``kind``, or None when there is none."""
        steps = self.epochs(kind)
        return steps[-1] if steps else None

    def intact(self, kind: str, epoch: int) -> bool:
        """Whether step ``epoch`` of ``kind`` still matches the seal written when it was saved."""
        seal = self.directory / kind / f"{epoch}.sha256"
        return seal.exists() and seal.read_text().split()[0] == _digest(self.directory / kind / str(epoch))

    def restore(self, kind: str, abstract_state: Any, epoch: int | None = None) -> tuple[Any, dict]:
        """(state, loop) of ``kind`` at ``epoch`` (default: the newest intact one); ``abstract_state``
        gives shapes / shardings.

        ``latest`` skips a corrupt newest step for the previous one, saying so; a step that is
        missing or corrupt otherwise is a :class:`UserError` naming it. Nothing is deleted.
        """
        steps = self.epochs(kind)
        if epoch is not None:
            candidates = [epoch]
        else:  # only `latest` may fall back: an older `best` is not the best
            candidates = list(reversed(steps)) if kind == "latest" else steps[-1:]
        if not candidates or (epoch is not None and epoch not in steps):
            raise UserError(f"{self.directory / kind / str(epoch if epoch is not None else '')}: no such "
                            "checkpoint (deleted, or never completed); run with --overwrite to start afresh, "
                            "or use another --workdir")
        for i, step in enumerate(candidates):
            path = self.directory / kind / str(step)
            if not self.intact(kind, step):
                if epoch is None and i + 1 < len(candidates):
                    print(f"aejax: {path}: corrupt (its files do not match the checksum written when it was "
                          f"saved); falling back to epoch {candidates[i + 1]}", file=sys.stderr)
                    continue
                older = " and no older intact step" if kind == "latest" and epoch is None else ""
                raise UserError(f"{path}: corrupt (its files do not match the checksum written when it was "
                                f"saved){older}; nothing was changed. Retrain with --overwrite, or use another "
                                "--workdir")
            try:
                out = self._managers[kind].restore(step, args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract_state), loop=ocp.args.JsonRestore()))
            except Exception as e:  # noqa: BLE001 - orbax / tensorstore raise many types
                msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
                raise UserError(f"{path}: cannot restore this checkpoint ({msg}); it is from a different "
                                "model. Run with --overwrite to start afresh, or use another --workdir") from None
            return out["state"], dict(out["loop"])
        raise AssertionError("unreachable")

    def wait(self) -> None:
        """Block until pending asynchronous saves are on disk."""
        for mgr in self._managers.values():
            mgr.wait_until_finished()

    def close(self) -> None:
        """Finish pending saves and release the managers (always call before exit)."""
        for mgr in self._managers.values():
            mgr.wait_until_finished()
            mgr.close()


def _digest(step_dir: Path) -> str:
    """SHA-256 over every file of a checkpoint step (relative path + bytes), in sorted order."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(step_dir).rglob("*") if p.is_file()):
        h.update(json.dumps(str(f.relative_to(step_dir))).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
