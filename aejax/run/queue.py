"""A sweep directory as a work queue shared by any number of ``aejax sweep`` processes.

The claim on a run is its run directory's lock (``.aejax-lock``, taken by
:meth:`RunDir.lock <aejax.run.rundir.RunDir.lock>` with an ``O_EXCL`` create: one process wins,
on one host or on many sharing a filesystem), so a claimed run and a locked run are the same
thing and ``aejax run`` / ``analyze`` respect a sweep worker's claim and the other way round.
On top of that lock this module adds:

- a **heartbeat**: :class:`Claim` writes ``heartbeat_s`` into the lock and a thread touches
  the lock's mtime every ``heartbeat_s`` seconds while the run trains and finishes;
- **stale claims**: a lock whose holder runs on this host and is gone, or whose heartbeat is
  older than ``stale_after_s`` (measured on the filesystem's clock, :class:`FsClock`, so hosts
  whose clocks disagree still agree on an age), is taken over with a message. A lock without a
  heartbeat (``aejax run``, an older aejax) is only taken over when its holder is gone from this
  host, as before;
- a safe takeover (:func:`take_over`): the stale lock is removed only if it is still the very
  file judged stale (inode, mtime, content), checked and removed by one taker at a time (a
  ``.takeover`` mutex), so a fresh lock that replaced it is never removed;
- a **lost claim** (another worker took the lock over, e.g. after this process hung for longer
  than ``stale_after_s``) is noticed by the heartbeat thread: :attr:`Claim.lost`, and the sweep
  stops training that run (:class:`ClaimLost`);
- run directories created whole (:func:`make_run_dir`: marker inside, then one rename), so a
  concurrent worker never sees a half-made one.

A finished run (its completion marker) is never claimed: the caller checks before and after
claiming. The driver is :func:`aejax.api.sweep`.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Mapping

from aejax.errors import UserError
from aejax.run import rundir as rundir_lib
from aejax.run.rundir import MARKER, RunDir, atomic_write, temp_folder_beside

#: Defaults of ``--set sweep.heartbeat_s=`` and ``sweep.stale_after_s=`` (seconds). The timeout
#: is well above NFS's attribute cache (acregmax, 60 s by default).
HEARTBEAT_S, STALE_AFTER_S = 10.0, 120.0


class ClaimLost(RuntimeError):
    """Another worker took over a run this process was training (its heartbeat looked stale)."""


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class FsClock:
    """"Now" on the clock of the filesystem holding ``folder``: a shared filesystem stamps file
    times with its server's clock (or the writer's), not this host's. Measured once, from a file
    written there, then advanced with this host's monotonic clock."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._base: tuple[float, float] | None = None

    def now(self) -> float:
        if self._base is None:
            self._base = (rundir_lib.fs_now(self.folder), time.monotonic())
        return self._base[0] + time.monotonic() - self._base[1]


def read_holder(lock_path: Path) -> tuple[dict, os.stat_result] | None:
    """The lock's content (``{}`` when empty or unreadable: being written, or cut short) and its
    stat (inode, mtime: the heartbeat); None when there is no lock."""
    try:
        with open(lock_path) as f:
            st = os.fstat(f.fileno())
            text = f.read()
    except FileNotFoundError:
        return None
    return rundir_lib.lock_record(text) or {}, st


def describe(info: Mapping) -> str:
    """``process 123 on host-a since 2026-...``."""
    return f"process {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('since', '?')}"


def stale_reason(info: Mapping, st: os.stat_result, stale_after_s: float, clock: FsClock) -> str | None:
    """Why a lock may be taken over, or None while its holder lives.

    Stale: its holder runs on this host and is gone; or the lock carries a heartbeat (or is
    empty: its writer died between creating and filling it) and was last touched more than
    ``stale_after_s`` (at least three of its holder's heartbeats) ago. A lock without a heartbeat
    from a live process or another host is never stale.
    """
    pid, host = info.get("pid"), info.get("host")
    if host == socket.gethostname() and isinstance(pid, int) and not rundir_lib.alive(pid):
        return f"process {pid} on this host is no longer running"
    beat = info.get("heartbeat_s")
    if not info or isinstance(beat, (int, float)):
        limit = max(stale_after_s, 3 * beat) if isinstance(beat, (int, float)) else stale_after_s
        age = clock.now() - st.st_mtime
        if age > limit:
            return f"its heartbeat is {age:.0f} s old (more than {limit:g} s)"
    return None


def take_over(lock_path: Path, seen: os.stat_result, message: str, info: Mapping | None = None) -> bool:
    """Remove the stale lock ``seen`` (content ``info``); True when this process removed it (then
    prints ``message``).

    Removed only if the lock there is still the very file judged stale (inode, mtime and content),
    checked and removed by one process at a time (:func:`aejax.run.rundir.remove_stale_lock`): a
    fresh lock that replaced it in between is left alone.
    """
    def unchanged(st: os.stat_result, text: str) -> bool:
        if (st.st_ino, st.st_mtime_ns) != (seen.st_ino, seen.st_mtime_ns):
            return False
        if info is None:
            return True
        return (rundir_lib.lock_record(text) or {}) == info  # read as read_holder reads it

    if rundir_lib.remove_stale_lock(lock_path, unchanged):
        print(message, file=sys.stderr, flush=True)
        return True
    return False


class Claim:
    """A run directory this process holds: its lock (taken by :meth:`RunDir.lock`), marked with
    ``heartbeat_s`` and touched by a thread every ``heartbeat_s`` until :meth:`release`."""

    def __init__(self, rd: RunDir, heartbeat_s: float):
        self.rd, self.heartbeat_s = rd, heartbeat_s
        self.lost: str | None = None
        self.info = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now(), "heartbeat_s": heartbeat_s,
                     "claim": os.urandom(6).hex()}
        with open(rd.lock_path, "r+") as f:  # in place: the lock file itself is the claim
            f.write(json.dumps(self.info) + "\n")
            f.truncate()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"aejax-heartbeat {rd.path.name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            seen = read_holder(self.rd.lock_path)
            if seen is None:  # a takeover never removes a live lock: it was judged stale
                self.lost = "its lock was removed"
                return
            if seen[0] != self.info:
                self.lost = f"its lock now belongs to {describe(seen[0])}"
                return
            try:
                os.utime(self.rd.lock_path)
            except FileNotFoundError:
                pass

    def check(self) -> None:
        """Raise :class:`ClaimLost` if another worker has taken this run over."""
        if self.lost:
            raise ClaimLost(f"{self.rd.path}: claim lost ({self.lost}); another worker trains it now")

    def release(self) -> None:
        """Stop the heartbeat and remove the lock (only if it is still this claim's)."""
        self._stop.set()
        self._thread.join()
        if self.lost:  # not ours any more: forget it without removing the new holder's lock
            self.rd.forget()
        else:
            self.rd.release()


def make_run_dir(path: Path) -> None:
    """Create the run directory ``path`` whole, aejax's marker already inside (a temporary
    folder renamed into place), so no worker ever sees it empty or unmarked; nothing if it exists."""
    path = Path(path)
    if path.is_dir():
        return
    tmp = temp_folder_beside(path)
    try:
        atomic_write(tmp / MARKER, json.dumps({"aejax_run": 1, "created": _now()}) + "\n")
        try:
            os.rename(tmp, path)
        except OSError:
            if not path.is_dir():  # not "another worker made it first"
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def try_claim(rd: RunDir, *, heartbeat_s: float = HEARTBEAT_S, stale_after_s: float = STALE_AFTER_S,
              clock: FsClock | None = None) -> Claim | None:
    """Claim the run directory ``rd`` (which must exist: :func:`make_run_dir`) for this process;
    None when a live worker holds it. A stale claim is taken over with a message on stderr."""
    clock = clock or FsClock(rd.path)
    for _ in range(4):
        seen = read_holder(rd.lock_path)
        if seen is not None:
            info, st = seen
            reason = stale_reason(info, st, stale_after_s, clock)
            if reason is None:
                return None
            take_over(rd.lock_path, st, f"aejax: {rd.path}: taking over the claim of {describe(info)}: {reason}",
                      info)
        try:
            rd.lock()
        except UserError:
            continue  # another worker locked it first: look at its lock again
        return Claim(rd, heartbeat_s)
    return None


def live_holder(rd: RunDir, stale_after_s: float, clock: FsClock) -> dict | None:
    """The lock's content when a live process holds ``rd`` (not this process), else None."""
    seen = read_holder(rd.lock_path)
    if seen is None or rd.held():
        return None
    info, st = seen
    return None if stale_reason(info, st, stale_after_s, clock) else info


# -- what every worker of a sweep shares besides the claims ----------------------------------------
FAILED, TABLES = ".aejax-failed", ".aejax-tables"


def record_failure(sweep_dir: Path, name: str, message: str) -> None:
    """Note that run ``name`` failed (diverged), so the workers running now do not retry it; a
    sweep started later does (:func:`failed_since`)."""
    atomic_write(Path(sweep_dir) / FAILED / name, json.dumps({"failed": _now(), "message": message}) + "\n")


def failed_since(sweep_dir: Path, name: str, t0: float) -> str | None:
    """The failure message of run ``name`` when it failed after ``t0`` (filesystem clock)."""
    path = Path(sweep_dir) / FAILED / name
    try:
        if path.stat().st_mtime < t0:
            return None
        return json.loads(path.read_text()).get("message", "failed")
    except (OSError, ValueError):
        return None


def clear_failure(sweep_dir: Path, name: str) -> None:
    (Path(sweep_dir) / FAILED / name).unlink(missing_ok=True)


def write_once(sweep_dir: Path, stamp: str, write, *, force: bool = False, heartbeat_s: float = HEARTBEAT_S,
               stale_after_s: float = STALE_AFTER_S, clock: FsClock | None = None) -> str:
    """Call ``write()`` (the sweep's tables) holding the sweep directory's own claim, unless the
    tables already show the state ``stamp`` (``force``: write anyway). Returns ``"written"``,
    ``"up to date"`` or ``"busy"`` (another worker is writing them)."""
    sweep_dir = Path(sweep_dir)
    claim = try_claim(RunDir(sweep_dir), heartbeat_s=heartbeat_s, stale_after_s=stale_after_s,
                      clock=clock or FsClock(sweep_dir))
    if claim is None:
        return "busy"
    try:
        done = sweep_dir / TABLES
        if not force and done.is_file() and done.read_text() == stamp and (sweep_dir / "sweep.csv").is_file():
            return "up to date"
        write()
        atomic_write(done, stamp)
        return "written"
    finally:
        claim.release()
