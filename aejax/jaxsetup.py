"""Process-wide JAX settings aejax applies before compiling anything.

The persistent compilation cache stores compiled XLA programs on disk, so a
rerun, a resumed run or the next seed of a sweep skips compilation (on this
2-core CPU the dense autoencoder's init + epoch compile fell from 3.0 s to
1.0 s). It lives in ``$AEJAX_CACHE/xla`` (default ``~/.cache/aejax/xla``);
``AEJAX_COMPILATION_CACHE=0`` turns it off, and a ``JAX_COMPILATION_CACHE_DIR``
set by the user wins.

:func:`tune_malloc` keeps glibc's allocator from returning XLA's per-step scratch to the kernel after
every step (``aejax`` and ``python -m aejax`` call it; ``AEJAX_TUNE_MALLOC=0`` turns it off).
"""
from __future__ import annotations

import ctypes
import os
import platform
import sys
from pathlib import Path

_done = False


def cache_root() -> Path:
    """``$AEJAX_CACHE`` or ``~/.cache/aejax`` (data and compilation caches)."""
    return Path(os.environ.get("AEJAX_CACHE", Path.home() / ".cache" / "aejax"))


def configure() -> None:
    """Enable the persistent compilation cache (once per process)."""
    global _done
    if _done:
        return
    _done = True
    import jax
    if os.environ.get("AEJAX_COMPILATION_CACHE", "1") == "0" or jax.config.jax_compilation_cache_dir:
        return
    directory = cache_root() / "xla"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # read-only home: compile every time
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.3)


# -- the allocator ---------------------------------------------------------------------------------------------

#: glibc's ``mallopt`` parameters (malloc.h) and the values :func:`tune_malloc` gives them.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
MALLOC_SETTINGS = {_M_MMAP_THRESHOLD: 64 << 20, _M_TRIM_THRESHOLD: 1 << 30, _M_TOP_PAD: 64 << 20}


def tune_malloc() -> bool:
    """Keep freed heap memory for reuse instead of returning it to the kernel (glibc only; idempotent).

    XLA:CPU allocates each execution's scratch afresh (22 MB per step for the course conv model at batch
    128, 44 MB at 256). glibc's defaults serve blocks above a moving threshold (at most 32 MB) with a
    fresh ``mmap``, trim the heap's top beyond twice that, and drop a thread arena's emptied heaps, so
    the pages come back to the kernel after a step and fault in again at the next: 0.05-1.5 M page faults
    per epoch at batch 128, 2.4 M at 256 (up to 4-6 s of system time per 54,000 examples). Here blocks below
    64 MB come from the heap, which keeps up to 1 GB of free top and 64 MB of padding per heap: no faults
    after the first steps, for ~100-200 MB more peak memory (benchmarks/README.md).

    Process-wide, so only the command line calls it (a notebook may call it itself). Nothing is changed
    when ``AEJAX_TUNE_MALLOC=0``, when the user set glibc's own ``MALLOC_*`` variables or malloc
    tunables, or off glibc (macOS, musl, an allocator in ``LD_PRELOAD`` ignores it). Returns whether the
    settings were applied."""
    if os.environ.get("AEJAX_TUNE_MALLOC", "1") == "0" or sys.platform != "linux":
        return False
    if any(k.startswith("MALLOC_") for k in os.environ) or \
            "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False  # the user's own choice
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(param, value) == 1 for param, value in MALLOC_SETTINGS.items())


# -- many processes (JAX's multi-controller runtime) ---------------------------------------------------------

#: How long a process waits for another at a hand-over point (the primary's checks before training,
#: its results after): as long as a run may take.
WAIT_MS = 7 * 24 * 3600 * 1000


def start_distributed(coordinator: str | None = None, num_processes: int | None = None,
                      process_id: int | None = None) -> None:
    """Join a multi-process run: ``jax.distributed.initialize`` with these arguments (all three, or
    none: the cluster's environment is detected: SLURM, Open MPI, Cloud TPU, Kubernetes). On CPU the
    collectives go through gloo. Call before anything touches a device; a failure is a UserError."""
    from aejax.errors import UserError
    given = [coordinator is not None, num_processes is not None, process_id is not None]
    if any(given) and not all(given):
        raise UserError("--coordinator HOST:PORT, --num-processes N and --process-id I go together "
                        "(or give --distributed alone to detect them from SLURM / Open MPI / TPU / Kubernetes)")
    if num_processes is not None and not 0 <= process_id < num_processes:
        raise UserError(f"--process-id {process_id}: expected 0 <= I < --num-processes {num_processes}")
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                   process_id=process_id)
    except (RuntimeError, ValueError) as e:
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot join the distributed run ({msg}); check --coordinator HOST:PORT (process 0 "
                        "listens there), --num-processes and --process-id, or the cluster's environment") from None


def process_count() -> int:
    """The number of processes in this run (1 unless :func:`start_distributed` joined many)."""
    import jax
    return jax.process_count()


def is_primary() -> bool:
    """Whether this process writes the run's files and prints (process 0)."""
    import jax
    return jax.process_index() == 0


def _kv_store():
    """The coordinator's key-value store client that ``jax.distributed.initialize`` opened.

    JAX has no public handle for it (orbax's multihost helpers read the same private attribute);
    a JAX that moved it fails here with one message instead of an AttributeError deep in a run."""
    try:
        from jax._src.distributed import global_state
        client = global_state.client
    except (ImportError, AttributeError):
        client = None
    if client is None:
        raise RuntimeError("no JAX distributed key-value store: call start_distributed() first (or this JAX "
                           "version keeps it elsewhere than jax._src.distributed.global_state.client)")
    return client


def publish(key: str, value: str) -> None:
    """Tell every process ``value`` under ``key`` (the coordinator's key-value store)."""
    _kv_store().key_value_set(f"aejax/{key}", value)


def wait_for(key: str) -> str:
    """The value another process :func:`publish`-ed under ``key`` (blocks until it is there)."""
    return _kv_store().blocking_key_value_get(f"aejax/{key}", WAIT_MS)
