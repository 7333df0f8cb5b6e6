"""The run directory's one owner: every file of the contract is read and written here.

| file | written by |
| --- | --- |
| ``config.json`` | :meth:`RunDir.prepare` (the resolved config, before training) |
| ``metrics.jsonl`` | :meth:`RunDir.append_metrics` (one row per epoch, as it happens) |
| ``checkpoints/`` | :attr:`RunDir.checkpoints` (orbax: ``latest`` and ``best``) |
| ``summary.json`` | :meth:`RunDir.write_summary` (the run's final numbers) |
| ``analysis/examples.npz``, ``analysis/latents.npy`` | :meth:`RunDir.write_examples` |
| ``figures/``, ``analysis/*.json``, ``report.html`` | the report and analysis layers, through
  :func:`atomic_write`, :func:`save_figure`, :func:`save_npy` / :func:`save_npz` |

Every JSON / text file is written atomically (a temporary file, then a rename), so a kill
never leaves half a file. aejax's own marker (``.aejax-run``) makes a folder a run directory:
only such a folder is ever written into or emptied. A lock (``.aejax-lock``: pid, host) keeps a
second process out. A run is finished when its completion marker (``.aejax-complete``) exists,
written after the summary, analysis, figures and report.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from aejax import config as config_lib
from aejax.errors import UserError

#: Keys a resumed run may change: how long it trains and how it shows progress.
RESUME_IGNORED = ("train.epochs", "train.progress", "train.patience", "experiment",
                  "log.tensorboard", "log.images_every")
#: aejax's files that make a folder a run directory: the marker, the completion marker, the lock.
MARKER, COMPLETE, LOCK = ".aejax-run", ".aejax-complete", ".aejax-lock"
_HELD: set[str] = set()  # run directories this process holds the lock of
TAKEOVER_ABANDONED_S = 30.0  # a takeover mutex older than this was left by a process that died in it


def remove_stale_lock(lock_path: Path, still_stale) -> bool:
    """Remove the lock file ``lock_path`` if ``still_stale(stat, text)`` holds for the lock there now;
    True when this process removed it.

    One process decides at a time, holding ``<lock>.takeover`` (created with O_EXCL, held for
    microseconds): without it, a taker that judged a lock stale could remove the fresh lock another
    taker had just put in its place (two holders). A mutex left by a process that died inside it
    is cleared after ``TAKEOVER_ABANDONED_S`` (on the filesystem's clock). Only ever an aejax lock."""
    if lock_path.name != LOCK:
        raise ValueError(f"{lock_path}: not an aejax run directory's lock ({LOCK})")
    mutex = lock_path.with_name(lock_path.name + ".takeover")
    try:
        os.close(os.open(mutex, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        try:
            if fs_now(lock_path.parent) - os.stat(mutex).st_mtime > TAKEOVER_ABANDONED_S:
                mutex.unlink()
        except FileNotFoundError:
            pass
        return False
    try:
        try:
            with open(lock_path) as f:
                st, text = os.fstat(f.fileno()), f.read()
        except FileNotFoundError:
            return False
        if not still_stale(st, text):
            return False
        os.unlink(lock_path)
        return True
    finally:
        mutex.unlink(missing_ok=True)


def fs_now(folder: Path) -> float:
    """"Now" on the clock of the filesystem holding ``folder`` (the mtime of a file written there)."""
    fd, probe = tempfile.mkstemp(prefix=".aejax-clock.", dir=folder)
    try:
        return os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        os.unlink(probe)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def lock_record(text: str) -> dict | None:
    """A lock file's owner record (pid, host, since, ...) from its text, or None when it is empty,
    cut short or not aejax's."""
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _lock_record(path: Path) -> dict | None:
    try:
        return lock_record(path.read_text())
    except OSError:
        return None


def alive(pid) -> bool:
    """Whether ``pid`` (a positive int: never 0 or -1, which name process groups) is a running process
    on this host."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@atexit.register
def _release_all() -> None:
    for key in list(_HELD):
        RunDir(key).release()


_UMASK = os.umask(0o022)
os.umask(_UMASK)  # (read once: os.umask can only be read by setting it)


def temp_beside(path: Path, suffix: str = "") -> tuple[int, str]:
    """``tempfile.mkstemp`` in ``path``'s folder, with the mode a plain ``open`` would give
    (0666 less the umask) instead of mkstemp's 0600, so the renamed file reads like any other."""
    fd, tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=suffix, dir=Path(path).parent)
    os.fchmod(fd, 0o666 & ~_UMASK)
    return fd, tmp


def temp_folder_beside(path: Path) -> Path:
    """``tempfile.mkdtemp`` in ``path``'s folder, with a plain ``mkdir``'s mode (0777 less the
    umask) instead of mkdtemp's 0700."""
    tmp = Path(tempfile.mkdtemp(prefix=".aejax-new.", dir=Path(path).parent))
    tmp.chmod(0o777 & ~_UMASK)
    return tmp


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_folder_path(folder: Path, option: str = "--workdir") -> None:
    """Refuse (exit 2) a folder to write in (given as ``option``) that is a file or a link, lies under
    a file, or would be created in a folder this process cannot write to."""
    folder = Path(folder)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise UserError(f"{folder}: not a directory (a file or a link); give "
                        + ("a new or empty --workdir" if option == "--workdir" else f"another {option}"))
    parent = folder.absolute()
    while not parent.exists() and not parent.is_symlink():
        parent = parent.parent
    if parent != folder.absolute() and not parent.is_dir():
        raise UserError(f"{folder}: cannot be a directory: {parent} is a file; give another {option}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{folder}: {parent} is not writable by this user; give another {option}")


def claim_folder(folder: Path, marker: str, kind: str, known=None) -> None:
    """Create (or recognise) a folder aejax owns through its ``marker`` file: a link, a file, or a
    non-empty folder with no marker (and not ``known(folder)``) is refused (exit 2) and left untouched.
    The marker is created in place (``O_EXCL``), never renamed from a temporary file, so a worker
    claiming the same new folder at the same time sees it empty or marked, never foreign."""
    folder = Path(folder)
    check_folder_path(folder)
    if (folder.is_dir() and any(folder.iterdir()) and not (folder / marker).exists()
            and not (known and known(folder))):
        raise UserError(f"{folder}: not empty and not an aejax {kind} directory (no {marker}); aejax "
                        "neither writes into it nor deletes it. Give a new or empty --workdir")
    folder.mkdir(parents=True, exist_ok=True)
    create_in_place(folder / marker, json.dumps({f"aejax_{kind}": 1}) + "\n")


def create_in_place(path: Path, text: str) -> bool:
    """Create a small marker file in place (``O_EXCL``); False when it exists. Unlike
    :func:`atomic_write` no temporary file ever sits beside it, so a process looking at the folder at
    the same moment sees nothing or the marker."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return True


@contextlib.contextmanager
def atomic_path(path: Path):
    """A temporary path beside ``path`` (same suffix) to write to; renamed onto ``path`` when the
    block ends without an error, removed otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path.with_suffix(""), suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_figure(fig, path: Path, **kw) -> Path:
    """``fig.savefig(path, **kw)``, atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kw)
    return Path(path)


def save_npy(path: Path, array) -> None:
    """``np.save(path, array)``, atomically."""
    with atomic_path(path) as tmp:
        np.save(tmp, array)


def save_npz(path: Path, **arrays) -> None:
    """``np.savez(path, **arrays)``, atomically."""
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def read_json(path: Path) -> Any:
    """A JSON file; a malformed one is a :class:`UserError` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None


def read_metrics(path: Path) -> list[dict]:
    """The epoch records of a metrics.jsonl file ([] when absent)."""
    path = Path(path)
    if not path.exists():
        return []
    return read_metrics_lines(path.read_text().splitlines(), path)


def read_metrics_lines(lines: list[str], path: Path) -> list[dict]:
    """The rows of metrics.jsonl lines; a malformed one is a :class:`UserError` naming file and line."""
    rows = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{n}: not a JSON line ({e.msg})") from None
    return rows


class RunDir:
    """One run directory (``path``) and its files."""

    def __init__(self, path: str | os.PathLike, *, writes: bool = True):
        """``writes=False``: process i > 0 of a multi-process run, which takes part in the
        checkpoints (orbax's multi-host saves are collective) and writes nothing else."""
        self.path = Path(path)
        self.writes = writes
        self._checkpoints = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- paths ------------------------------------------------------------------------------
    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    summary_path = property(lambda self: self.path / "summary.json")
    figures = property(lambda self: self.path / "figures")
    analysis = property(lambda self: self.path / "analysis")

    # -- lifecycle --------------------------------------------------------------------------
    marker_path = property(lambda self: self.path / MARKER)
    complete_path = property(lambda self: self.path / COMPLETE)
    lock_path = property(lambda self: self.path / LOCK)

    def has_checkpoint(self) -> bool:
        latest = self.path / "checkpoints" / "latest"
        return latest.is_dir() and any(latest.iterdir())

    def is_run(self) -> bool:
        """Whether this is an aejax run directory: it has aejax's marker (or, written before the
        marker existed, a config.json with aejax's sections beside checkpoints or metrics)."""
        if self.marker_path.is_file():
            return True
        try:
            cfg = json.loads(self.config_path.read_text())
        except (OSError, ValueError):
            return False
        return (isinstance(cfg, dict) and {"data", "model", "train"} <= set(cfg)
                and ((self.path / "checkpoints").is_dir() or self.metrics_path.is_file()))

    def is_finished(self) -> bool:
        """A run is finished once its completion marker is written: after its summary, analysis,
        figures and report (a run directory from before the marker: summary.json and report.html)."""
        if self.complete_path.is_file():
            return True
        return (not self.marker_path.exists() and self.summary_path.is_file()
                and (self.path / "report.html").is_file())

    def mark_complete(self) -> None:
        """Write the completion marker: the run's files are all there."""
        atomic_write(self.complete_path, json.dumps({"completed": _now()}) + "\n")

    def check(self, cfg: Mapping | None = None) -> None:
        """Refuse (exit 2) a path that is not a directory, a non-empty folder that is not a run
        directory, and a run directory written with another config (naming the differing keys)."""
        p = self.path
        check_folder_path(p)
        if p.is_dir() and any(c.name != LOCK for c in p.iterdir()) and not self.is_run():
            # (a folder holding only aejax's lock is a run being started: lock() names its holder)
            raise UserError(f"{p}: not empty and not an aejax run directory (no {MARKER}); aejax neither "
                            "writes into it nor deletes it. Give a new or empty --workdir")
        if cfg is not None and p.is_dir() and self.config_path.exists():
            diff = config_diff(read_json(self.config_path), cfg)
            if diff:
                raise UserError(f"{p}: holds a run with a different config ({', '.join(diff[:5])}"
                                f"{', ...' if len(diff) > 5 else ''}); use --overwrite to start afresh or "
                                "another --workdir")

    def prepare(self, cfg: Mapping, overwrite: bool = False) -> bool:
        """Lock the directory for this process, write the marker and config.json; True when it
        holds a run to resume.

        Refused (exit 2, nothing touched): a file or link, a non-empty folder that is not a run
        directory, another process's run, and (without ``overwrite``) a run of a different config.
        ``overwrite`` empties a recognised run directory; validate the config, the experiment and
        the data before calling it. A run written before a key existed resumes if the new config
        keeps that key's default; ``train.epochs`` may change (a finished run then trains on).
        """
        self.check(None if overwrite else cfg)
        self.path.mkdir(parents=True, exist_ok=True)
        self.lock()
        if overwrite:
            for child in self.path.iterdir():
                if child.name != LOCK:
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        create_in_place(self.marker_path, json.dumps({"aejax_run": 1, "created": _now()}) + "\n")
        old = read_json(self.config_path) if self.config_path.exists() else None
        if old is not None and old.get("train", {}).get("epochs") != cfg["train"]["epochs"]:
            self.complete_path.unlink(missing_ok=True)  # it trains on: no longer complete
        self.write_json("config.json", cfg)
        return self.has_checkpoint()

    # -- the lock ---------------------------------------------------------------------------
    def lock(self) -> None:
        """Hold the directory for this process (re-entrant). A live holder is an error naming it;
        a dead one's lock (same host, no such process) is taken over with a message."""
        key = str(self.path.resolve())
        if key in _HELD:
            return
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
        for _ in range(3):
            try:
                fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _lock_record(self.lock_path)
                if holder is None:  # a process between creating the lock and writing its record?
                    time.sleep(0.2)
                    holder = _lock_record(self.lock_path) or {}
                if holder.get("host") == me["host"] and not alive(holder.get("pid")):
                    def still_dead(st, text, pid=holder.get("pid")):
                        now = lock_record(text) or {}
                        return now.get("host") == me["host"] and now.get("pid") == pid
                    if remove_stale_lock(self.lock_path, still_dead):
                        print(f"aejax: {self.path}: taking over the lock of process {holder.get('pid')}, which is "
                              "no longer running", file=sys.stderr)
                    continue
                if "pid" not in holder:  # a lock aejax did not write whole
                    raise UserError(f"{self.lock_path}: a lock with no readable owner record; if no aejax "
                                    "process is using this folder (one that is starting writes its record "
                                    "within a moment), remove that file and rerun") from None
                raise UserError(f"{self.path}: in use by process {holder.get('pid', '?')} on "
                                f"{holder.get('host', '?')} since {holder.get('since', '?')} ({LOCK}); wait for "
                                "it to finish, or use another --workdir") from None
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(me) + "\n")
            _HELD.add(key)
            return
        raise UserError(f"{self.path}: could not take its lock ({self.lock_path})")

    def held(self) -> bool:
        """Whether this process holds the directory's lock."""
        return str(self.path.resolve()) in _HELD

    def forget(self) -> None:
        """Stop holding the directory without touching its lock file (another process's now)."""
        _HELD.discard(str(self.path.resolve()))

    def release(self) -> None:
        """Give the directory back (the lock file is removed only if this process holds it)."""
        key = str(self.path.resolve())
        if key in _HELD:
            _HELD.discard(key)
            self.lock_path.unlink(missing_ok=True)

    def config(self) -> dict:
        if not self.config_path.exists():
            raise UserError(f"{self.path}: not a run directory (no config.json)")
        return read_json(self.config_path)

    # -- checkpoints ------------------------------------------------------------------------
    @property
    def checkpoints(self):
        """The run's orbax checkpoints (opened on first use; :meth:`close` them)."""
        if self._checkpoints is None:
            from aejax.train.checkpoint import Checkpoints
            self._checkpoints = Checkpoints(self.path / "checkpoints")
        return self._checkpoints

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None

    # -- metrics ----------------------------------------------------------------------------
    def append_metrics(self, row: Mapping) -> None:
        if not self.writes:
            return
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(row) + "\n")

    def keep_metrics_through(self, epoch: int) -> None:
        """Drop rows after ``epoch`` (written after the checkpoint a resumed run continues from)."""
        if not self.writes:
            return
        if epoch == 0:
            if self.metrics_path.exists() and self.metrics_path.read_text().strip():
                print(f"aejax: {self.path}: no checkpoint to resume from; training starts afresh and the rows "
                      "of metrics.jsonl (from before) are dropped", file=sys.stderr)
            self.metrics_path.unlink(missing_ok=True)
            return
        lines = self.metrics_path.read_text().splitlines() if self.metrics_path.exists() else []
        if lines and not _parses(lines[-1]):  # a row cut short by a kill: past the checkpoint anyway
            lines = lines[:-1]
        rows = [r for r in read_metrics_lines(lines, self.metrics_path) if r["epoch"] <= epoch]
        missing = sorted(set(range(1, epoch + 1)) - {r["epoch"] for r in rows})
        if missing:  # removed by hand: say so rather than draw curves that silently start later
            print(f"aejax: warning: {self.metrics_path} has no rows for {len(missing)} of the {epoch} epochs of "
                  f"the checkpoint it resumes from (first missing: epoch {missing[0]}); training goes on, and "
                  "its curves and summary will lack them", file=sys.stderr)
        atomic_write(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def metrics(self) -> list[dict]:
        return read_metrics(self.metrics_path)

    # -- results ----------------------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> Path:
        path = self.path / name
        atomic_write(path, json.dumps(obj, indent=2) + "\n")
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        atomic_write(path, text)
        return path

    def write_summary(self, summary: Mapping) -> None:
        self.write_json("summary.json", summary)

    def summary(self) -> dict:
        return read_json(self.summary_path) if self.summary_path.exists() else {}

    def write_examples(self, examples: Mapping[str, np.ndarray], codes: np.ndarray) -> None:
        """``analysis/examples.npz`` (what the figures show) and ``analysis/latents.npy``
        (the codes of the whole test split, flattened to [N, D])."""
        save_npz(self.analysis / "examples.npz", **examples)
        save_npy(self.analysis / "latents.npy", codes.reshape(len(codes), -1))

    def examples(self) -> dict:
        with np.load(self.analysis / "examples.npz") as z:
            return {k: z[k] for k in z.files}


def config_diff(old: Mapping, new: Mapping) -> list[str]:
    """The keys whose values differ between two configs, ignoring :data:`RESUME_IGNORED`; a key
    the old config lacks (it came with a newer aejax) counts as its base default."""
    a, b = config_lib.flatten(old), config_lib.flatten(new)
    defaults = config_lib.flatten(config_lib.base_config())
    a.update({k: defaults[k] for k in b if k not in a and k in defaults})
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUME_IGNORED)
