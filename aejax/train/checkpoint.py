"""Orbax checkpoints behind one small class: ``latest`` (resume) and ``best`` (evaluate).

Layout: ``checkpoints/latest/<epoch>/`` and ``checkpoints/best/<epoch>/``, each an
orbax ``CheckpointManager`` keeping one step. A step holds ``state`` (the
train-state pytree: step, params, optimizer state; saved with
``args.StandardSave``) and ``loop`` (JSON: epoch, best value, patience counter,
elapsed time), so a resumed run continues exactly where it stopped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import orbax.checkpoint as ocp

from aejax.errors import UserError


class Checkpoints:
    """Save / restore the latest and the best train state of one run directory."""

    def __init__(self, directory: Path):
        self.directory = Path(directory).absolute()
        opts = ocp.CheckpointManagerOptions(max_to_keep=1, create=True)
        self._managers = {kind: ocp.CheckpointManager(self.directory / kind, options=opts)
                          for kind in ("latest", "best")}

    def save(self, kind: str, epoch: int, state: Any, loop: dict) -> None:
        """Save ``state`` (pytree of arrays) and ``loop`` (JSON dict) as step ``epoch``."""
        self._managers[kind].save(epoch, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), loop=ocp.args.JsonSave(loop)))

    def latest_epoch(self, kind: str = "latest") -> int | None:
        """The saved epoch of ``kind``, or None when there is none."""
        return self._managers[kind].latest_step()

    def restore(self, kind: str, abstract_state: Any) -> tuple[Any, dict]:
        """(state, loop) of ``kind``; ``abstract_state`` gives shapes / shardings.

        A checkpoint that cannot be read is a :class:`UserError` naming its
        directory: nothing is deleted, so the user can inspect or ``--overwrite`` it.
        """
        mgr = self._managers[kind]
        step = mgr.latest_step()
        path = self.directory / kind / str(step)
        try:
            out = mgr.restore(step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state), loop=ocp.args.JsonRestore()))
        except Exception as e:  # noqa: BLE001 - orbax / tensorstore raise many types
            msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
            raise UserError(f"{path}: cannot restore this checkpoint ({msg}); it is corrupt or "
                            "from a different model. Run with --overwrite to start afresh, or "
                            "use another --workdir") from e
        return out["state"], dict(out["loop"])

    def wait(self) -> None:
        """Block until pending asynchronous saves are on disk."""
        for mgr in self._managers.values():
            mgr.wait_until_finished()

    def close(self) -> None:
        """Finish pending saves and release the managers (always call before exit)."""
        for mgr in self._managers.values():
            mgr.wait_until_finished()
            mgr.close()
