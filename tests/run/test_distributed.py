"""One run over many processes (JAX's multi-controller runtime), tested with two local processes of
two emulated CPU devices each and gloo collectives: the same numbers as one process with four
devices, one run directory written once by process 0, checkpoints saved and restored by both
(orbax's multi-host path), and every process ending with the same exit status."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from helpers import ROOT, metrics_rows

QUICK = ["mnist_dense", "--quick", "--set", "train.progress=false", "--set", "analysis.enabled=false"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int) -> dict:
    return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu",
                PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")


def _two_processes(*args, timeout=240) -> list[subprocess.CompletedProcess]:
    """``aejax run ARGS`` as processes 0 and 1 of one distributed run (two CPU devices each)."""
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "aejax", "run", *map(str, args),
                               "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)],
                              cwd=ROOT, env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    out = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def test_two_processes_train_one_run_like_one_process_with_four_devices(tmp_path):
    one = subprocess.run([sys.executable, "-m", "aejax", "run", *QUICK, "--workdir", tmp_path / "one"],
                         cwd=ROOT, env=_env(4), capture_output=True, text=True, timeout=240)
    assert one.returncode == 0, one.stderr[-2000:]
    # Two processes: one epoch, then resumed for the second (both restore the checkpoint).
    first = _two_processes(*QUICK, "--set", "train.epochs=1", "--workdir", tmp_path / "two")
    assert [p.returncode for p in first] == [0, 0], first[0].stderr[-2000:] + first[1].stderr[-2000:]
    both = _two_processes(*QUICK, "--set", "train.epochs=2", "--workdir", tmp_path / "two")
    assert [p.returncode for p in both] == [0, 0], both[0].stderr[-2000:] + both[1].stderr[-2000:]
    assert "resuming" in both[0].stderr and "resuming" not in both[1].stderr  # process 0 speaks
    assert "test/mse" in both[0].stdout and "test/mse" not in both[1].stdout

    rows = metrics_rows(tmp_path / "two")
    assert [r["epoch"] for r in rows] == [1, 2]  # written once, by process 0
    a = json.loads((tmp_path / "two" / "summary.json").read_text())
    b = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert a["processes"] == 2 and a["devices"] == b["devices"] == "4 x cpu"
    assert a["test/mse"] == pytest.approx(b["test/mse"], rel=1e-4)
    assert rows[-1]["train/loss"] == pytest.approx(metrics_rows(tmp_path / "one")[-1]["train/loss"], rel=1e-4)
    assert (tmp_path / "two" / ".aejax-complete").exists() and not (tmp_path / "two" / ".aejax-lock").exists()

    again = _two_processes(*QUICK, "--set", "train.epochs=2", "--workdir", tmp_path / "two")
    assert [p.returncode for p in again] == [0, 0] and "already finished" in again[0].stderr


def test_an_error_of_process_0_ends_every_process_with_its_status(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not aejax's")
    out = _two_processes(*QUICK, "--workdir", tmp_path / "mine")
    assert [p.returncode for p in out] == [2, 2]
    assert "not an aejax run directory" in out[0].stderr
    assert "process 0:" in out[1].stderr and "not an aejax run directory" in out[1].stderr
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_distributed_arguments_go_together():
    p = subprocess.run([sys.executable, "-m", "aejax", "run", *QUICK, "--coordinator", "127.0.0.1:1"],
                       cwd=ROOT, env=_env(1), capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "go together" in p.stderr


def test_the_hand_over_store_needs_a_distributed_run():
    """publish / wait_for outside a multi-process run: one clear RuntimeError, not JAX's AttributeError."""
    from aejax import jaxsetup
    with pytest.raises(RuntimeError, match="start_distributed"):
        jaxsetup.publish("prepared", "ok")
    with pytest.raises(RuntimeError, match="start_distributed"):
        jaxsetup.wait_for("prepared")
