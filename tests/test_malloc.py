"""jaxsetup.tune_malloc: freed scratch stays mapped (no page faults per step), and the user's choices win."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

from aejax import cli, jaxsetup

glibc = pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")

#: Allocates, touches and frees a 40 MB block (above glibc's largest default mmap threshold, as XLA's
#: step scratch is at batch 256) five times; prints whether the settings applied and the page faults.
CYCLES = textwrap.dedent("""
    import ctypes, resource, sys
    from aejax import jaxsetup
    applied = jaxsetup.tune_malloc() if sys.argv[1] == "tuned" else False
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
    n = 40 << 20
    def cycle():
        p = libc.malloc(n)
        ctypes.memset(p, 1, n)
        libc.free(p)
    cycle()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        cycle()
    print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _faults(mode: str) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items()  # glibc's defaults: none of the user's own settings
           if not k.startswith("MALLOC_") and k not in ("AEJAX_TUNE_MALLOC", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", CYCLES, mode], env=env, capture_output=True, text=True, check=True)
    applied, faults = out.stdout.split()
    return applied, int(faults)


@glibc
def test_tuned_heap_keeps_freed_blocks_mapped():
    pages = 5 * (40 << 20) // 4096  # every page of every cycle
    applied, default = _faults("default")
    assert default > pages // 2  # glibc's defaults: mmap'd afresh and faulted in on every cycle
    applied, tuned = _faults("tuned")
    assert applied == "True" and tuned < pages // 50


@pytest.mark.parametrize("env", [{"AEJAX_TUNE_MALLOC": "0"}, {"MALLOC_ARENA_MAX": "2"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000000"}])
def test_the_users_choice_wins(monkeypatch, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert jaxsetup.tune_malloc() is False  # nothing changed in this process


def test_the_command_line_tunes_before_anything_else(monkeypatch, tmp_path):
    called = []
    monkeypatch.setattr(jaxsetup, "tune_malloc", lambda: called.append(True))
    assert cli.main(["analyze", str(tmp_path / "missing")]) == 2  # not a run directory: exit 2
    assert called == [True]
