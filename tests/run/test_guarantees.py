"""What aejax guarantees under faults and misuse (README "What aejax guarantees").

Each test reproduces a fault -- a foreign folder, a kill, a signal, flipped bytes, a second
process, a bad value, a broken experiment file -- and checks the outcome: nothing outside a run
directory is touched, nothing stale is reported as current, one clear message with a documented
exit status, and a rerun ends where an uninterrupted run ends.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aejax import api
from aejax.errors import UserError
from aejax.run.rundir import LOCK, RunDir
from aejax.train import checkpoint as checkpoint_lib
from helpers import ROOT, SMALL, run_cli, set_args

TINY = SMALL


def _run(wd, *sets, **kw):
    return api.run("mnist_dense", workdir=wd, overrides=TINY + list(sets), **kw)


def _files(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_a_foreign_folder_is_never_written_or_deleted(tmp_path):
    home = tmp_path / "fh"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id").write_text("k")
    (home / "config.json").write_text('{"mine": 1}')
    before = _files(home)
    for overwrite in (False, True):
        for sets in ([], ["data.name=csv:/nope.csv"]):
            with pytest.raises(UserError, match="not empty and not an aejax run directory"):
                api.run("mnist_dense", workdir=home, overrides=TINY + sets, overwrite=overwrite)
    with pytest.raises(UserError, match="not an aejax sweep directory"):
        api.sweep("mnist_dense", workdir=home, quick=True)
    assert _files(home) == before
    link = tmp_path / "link"
    link.symlink_to(home)
    with pytest.raises(UserError, match="not a directory"):
        _run(link)


def test_overwrite_deletes_a_run_only_after_its_data_loaded(tmp_path):
    _run(tmp_path / "r", "train.epochs=1")
    before = _files(tmp_path / "r")
    with pytest.raises(UserError, match="nope.csv"):
        api.run("mnist_dense", workdir=tmp_path / "r", overrides=TINY + ["train.epochs=1", "data.name=csv:/nope.csv"],
                overwrite=True)
    assert _files(tmp_path / "r") == before


def test_a_finished_run_is_reported_not_retrained(tmp_path, capsys):
    first = _run(tmp_path / "r", "train.epochs=1")
    before = _files(tmp_path / "r")
    assert _run(tmp_path / "r", "train.epochs=1") == first
    assert "already finished" in capsys.readouterr().err and _files(tmp_path / "r") == before


def test_a_sweep_never_skips_or_resumes_runs_of_another_config(tmp_path):
    sets = ["train.progress=false", "analysis.enabled=false", "data.limit=200"]
    api.sweep("mnist_dense", workdir=tmp_path, quick=True, overrides=sets)
    before = (tmp_path / "sweep.csv").read_text()
    with pytest.raises(UserError, match=r"different config \(train.learning_rate\)"):
        api.sweep("mnist_dense", workdir=tmp_path, quick=True, overrides=sets + ["train.learning_rate=0.05"])
    assert (tmp_path / "sweep.csv").read_text() == before


def test_a_run_killed_before_its_completion_marker_is_finished_by_the_next_command(tmp_path, monkeypatch):
    real = api.report_html.write_run_report

    def killed(run_dir):
        raise KeyboardInterrupt  # after summary.json, before the report and the marker
    monkeypatch.setattr(api.report_html, "write_run_report", killed)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "r", "train.epochs=2")
    rd = RunDir(tmp_path / "r")
    assert rd.summary_path.exists() and not rd.is_finished()
    monkeypatch.setattr(api.report_html, "write_run_report", real)
    _run(tmp_path / "r", "train.epochs=2")
    assert rd.is_finished() and (tmp_path / "r" / "report.html").exists()
    assert len(rd.metrics()) == 2


def test_a_second_process_is_refused_and_a_dead_ones_lock_taken_over(tmp_path, capsys):
    _run(tmp_path / "r", "train.epochs=1")
    lock = tmp_path / "r" / LOCK
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "since": "now"}))
        with pytest.raises(UserError, match=rf"in use by process {holder.pid} on {socket.gethostname()}"):
            _run(tmp_path / "r", "train.epochs=2")
        with pytest.raises(UserError, match="in use by process"):
            api.analyze(tmp_path / "r")
    finally:
        holder.kill()
        holder.wait()
    assert _run(tmp_path / "r", "train.epochs=2")["epochs_run"] == 2  # the dead holder's lock is taken over
    assert "taking over the lock" in capsys.readouterr().err and not lock.exists()


def test_a_lock_with_no_owner_record_says_how_to_free_it(tmp_path):
    rd = RunDir(tmp_path / "r")
    rd.path.mkdir()
    for junk in ("garbage", "[1]", ""):
        rd.lock_path.write_text(junk)
        with pytest.raises(UserError, match="a lock with no readable owner record; if no aejax process is using "
                                            "this folder .* remove that file and rerun"):
            rd.lock()
        assert rd.lock_path.read_text() == junk and not rd.held()  # left for the user to judge
    rd.lock_path.unlink()
    rd.lock()
    assert rd.held() and json.loads(rd.lock_path.read_text())["pid"] == os.getpid()
    rd.release()


def test_a_run_being_started_by_another_process_is_named_as_in_use(tmp_path):
    # Two processes started on one new --workdir: the second may look in just after the first took
    # the lock and before its marker exists; it must name the holder, not call the folder foreign.
    (tmp_path / "r").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "r" / LOCK).write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(),
                                                       "since": "now"}))
        with pytest.raises(UserError, match=rf"in use by process {holder.pid}"):
            _run(tmp_path / "r", "train.epochs=1")
    finally:
        holder.kill()
        holder.wait()
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [LOCK]  # nothing written meanwhile


def test_sigterm_saves_exits_143_and_the_rerun_ends_as_an_uninterrupted_run(tmp_path):
    args = ["run", "mnist_dense", *set_args(TINY + ["train.epochs=400"])]
    proc = subprocess.Popen([sys.executable, "-m", "aejax", *args, "--workdir", tmp_path / "r"], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "r" / "metrics.jsonl"
    for _ in range(600):
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 143, err[-2000:]
    assert "SIGTERM: stopped after epoch" in err and "Traceback" not in err
    epoch = int(err.split("stopped after epoch ")[1].split(",")[0])
    assert RunDir(tmp_path / "r").checkpoints.latest_epoch() == epoch
    resumed = _run(tmp_path / "r", "train.epochs=400")
    whole = _run(tmp_path / "whole", "train.epochs=400")
    assert resumed["test/mse"] == pytest.approx(whole["test/mse"], rel=1e-6)


def test_flipped_bytes_are_detected_latest_falls_back_best_is_refused(tmp_path, capsys):
    _run(tmp_path / "r", "train.epochs=3", "train.checkpoint_every_s=0")
    ckpt = tmp_path / "r" / "checkpoints"

    def flip(step_dir):
        f = max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        b = bytearray(f.read_bytes())
        b[64:320] = bytes(x ^ 0xFF for x in b[64:320])
        f.write_bytes(b)
    flip(ckpt / "latest" / "3")
    resumed = _run(tmp_path / "r", "train.epochs=4", "train.checkpoint_every_s=0")
    assert "latest/3: corrupt" in capsys.readouterr().err and resumed["epochs_run"] == 4
    whole = _run(tmp_path / "whole", "train.epochs=4")
    assert resumed["test/mse"] == pytest.approx(whole["test/mse"], rel=1e-6)

    _run(tmp_path / "a", "train.epochs=2", "analysis.enabled=true")
    importance = (tmp_path / "a" / "analysis" / "importance.json").read_bytes()
    flip(ckpt.parent.parent / "a" / "checkpoints" / "best" / "2")
    out = run_cli("analyze", tmp_path / "a")
    assert out.returncode == 2 and "best/2: corrupt" in out.stderr and "Traceback" not in out.stderr
    assert (tmp_path / "a" / "analysis" / "importance.json").read_bytes() == importance


def test_best_always_holds_best_epochs_weights_after_a_kill_between_saves(tmp_path, monkeypatch):
    real = checkpoint_lib.Checkpoints.save

    def kill_after_best(self, kind, epoch, state, loop):
        real(self, kind, epoch, state, loop)
        if kind == "best" and epoch == 2:
            raise KeyboardInterrupt  # best/2 written, latest/2 not
    monkeypatch.setattr(checkpoint_lib.Checkpoints, "save", kill_after_best)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "r", "train.epochs=4", "train.checkpoint_every_s=0")
    monkeypatch.setattr(checkpoint_lib.Checkpoints, "save", real)
    resumed = _run(tmp_path / "r", "train.epochs=4", "train.checkpoint_every_s=0")
    whole = _run(tmp_path / "whole", "train.epochs=4", "train.checkpoint_every_s=0")
    assert resumed["best_epoch"] == whole["best_epoch"]
    assert resumed["test/mse"] == pytest.approx(whole["test/mse"], rel=1e-6)


def test_a_half_written_metrics_row_does_not_block_resume(tmp_path):
    _run(tmp_path / "r", "train.epochs=2", stop_after_epoch=1)
    with open(tmp_path / "r" / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "st')  # killed while writing epoch 2's row
    assert _run(tmp_path / "r", "train.epochs=2")["epochs_run"] == 2
    assert [r["epoch"] for r in RunDir(tmp_path / "r").metrics()] == [1, 2]


def test_resuming_with_metrics_rows_removed_says_so(tmp_path, capsys):
    _run(tmp_path / "r", "train.epochs=2", stop_after_epoch=2)
    (tmp_path / "r" / "metrics.jsonl").unlink()  # removed by hand; the checkpoint (epoch 2) is kept
    capsys.readouterr()
    assert _run(tmp_path / "r", "train.epochs=3")["epochs_run"] == 3
    assert "has no rows for 2 of the 2 epochs of the checkpoint it resumes from (first missing: epoch 1)" in \
        capsys.readouterr().err
    assert [r["epoch"] for r in RunDir(tmp_path / "r").metrics()] == [3]
    shutil.rmtree(tmp_path / "r" / "checkpoints")  # and now the checkpoints; train on to 4 epochs
    assert _run(tmp_path / "r", "train.epochs=4")["epochs_run"] == 4
    assert "no checkpoint to resume from; training starts afresh" in capsys.readouterr().err
    assert [r["epoch"] for r in RunDir(tmp_path / "r").metrics()] == [1, 2, 3, 4]


@pytest.mark.parametrize("sets, key", [
    (["model.latent_dim=0"], "model.latent_dim"), (["model.hidden=[0]"], "model.hidden"),
    (['model.hidden=["a"]'], "model.hidden"), (["model.activation=foo"], "model.activation"),
    (["train.eval_batch_size=0"], "train.eval_batch_size"), (["seed=-1"], "seed"),
    (["seed=99999999999999999999"], "seed"), (["data.options=abc"], "data.options"),
    (["data.limit=-1"], "data.limit"), (["data.noise_std=-1"], "data.noise_std"),
    (["train.weight_decay=-1"], "train.weight_decay"), (["figures.examples=0"], "figures.examples"),
])
def test_bad_values_are_exit_2_before_any_file(tmp_path, sets, key):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        api.run("mnist_dense", workdir=tmp_path / "r", overrides=TINY + sets)
    assert not (tmp_path / "r").exists()


def test_a_malformed_conv_setting_is_exit_2(tmp_path):
    with pytest.raises(UserError, match=r"model\.encoder"):
        api.run("mnist_conv", workdir=tmp_path / "r", quick=True, overrides=["model.encoder=[[16]]"])


@pytest.mark.parametrize("text, where", [
    ('"""x"""\ndef get_config(:\n', ":2: the experiment file does not parse"),
    ('"""x"""\nimport no_such_module_here\n', ":2: the experiment file fails to import"),
    ('"""x"""\ndef get_config():\n    raise ValueError("boom")\n', ":3: get_config() failed (ValueError: boom)"),
    ('"""x"""\ndef get_config():\n    return 3\n', "get_config() returned int"),
    ('"""x"""\ndef get_config():\n    return {"seed": 0}\n', "returned a config without model.name"),
])
def test_a_broken_experiment_file_is_exit_2_naming_file_and_line(tmp_path, text, where):
    path = tmp_path / "broken.py"
    path.write_text(text)
    out = run_cli("run", path, "--workdir", tmp_path / "w")
    assert out.returncode == 2 and str(path) in out.stderr and where in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "w").exists()


def test_load_run_never_imports_a_path_named_in_config_json(tmp_path, capsys):
    evil = tmp_path / "evil.py"
    evil.write_text(f'open({str(tmp_path / "ran")!r}, "w").write("x")\ndef get_config():\n    return {{}}\n')
    _run(tmp_path / "r", "train.epochs=1")
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    cfg["experiment"] = str(evil)
    (tmp_path / "r" / "config.json").write_text(json.dumps(cfg))
    api.load_run(tmp_path / "r")
    assert not (tmp_path / "ran").exists() and "never imported" in capsys.readouterr().err


def test_list_into_a_closed_pipe_is_quiet():
    out = subprocess.run(f"{sys.executable} -m aejax list | head -1", shell=True, cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env=dict(os.environ))
    assert out.stdout.startswith("experiments") and "Traceback" not in out.stderr


def test_no_file_named_in_a_run_directory_is_unpickled(tmp_path):
    _run(tmp_path / "r", "train.epochs=1")
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    cfg["data"]["options"] = {"data_home": str(tmp_path / "attacker")}  # scikit-learn unpickles its cache
    (tmp_path / "r" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="data.options.data_home .* never unpickles"):
        api.load_run(tmp_path / "r")


def test_a_diverged_run_keeps_its_last_good_epoch_whatever_the_interval(tmp_path, monkeypatch):
    from aejax.errors import TrainingDiverged
    from aejax.train.step import Trainer
    import jax.numpy as jnp
    real_epoch = Trainer.epoch

    def poisoned(self, state, x, data_key, step_key, epoch):
        state, metrics = real_epoch(self, state, x, data_key, step_key, epoch)
        return state, (dict(metrics, loss=jnp.float32(jnp.nan)) if epoch == 4 else metrics)
    monkeypatch.setattr(Trainer, "epoch", poisoned)
    with pytest.raises(TrainingDiverged, match=r"epoch 4: .*latest: epoch 3, best: epoch \d"):
        _run(tmp_path / "r", "train.epochs=6", "train.checkpoint_every_s=1e9")  # only epoch 1 by the interval
    assert RunDir(tmp_path / "r").checkpoints.epochs() == [1, 3]


def test_bad_data_is_exit_2_before_any_file(tmp_path):
    for sets in (["data.name=nope"], ["train.batch_size=100000"], ["data.name=csv:/nope.csv"]):
        with pytest.raises(UserError):
            _run(tmp_path / "r", *sets)
        assert not (tmp_path / "r").exists()


def test_a_runs_files_get_the_modes_plain_files_would(tmp_path):
    # Written through a temporary file and a rename, they must not keep mkstemp's 0600 (a colleague
    # or a web server could not read the report) nor mkdtemp's 0700.
    old = os.umask(0o022)
    try:
        _run(tmp_path / "r", "train.epochs=1")
    finally:
        os.umask(old)
    modes = {str(p.relative_to(tmp_path)): p.stat().st_mode & 0o777 for p in (tmp_path / "r").rglob("*")
             if "checkpoints" not in p.parts}
    assert {"r/config.json", "r/summary.json", "r/report.html", "r/.aejax-run"} <= set(modes)
    assert {k: m for k, m in modes.items() if m not in (0o644, 0o755)} == {}


def test_a_workdir_under_a_file_and_a_failing_disk_end_in_one_message(tmp_path, capsys, monkeypatch):
    import errno

    from aejax import cli
    (tmp_path / "afile").write_text("mine")
    for cmd in (["run", "mnist_dense"], ["sweep", "mnist_dense"], ["tune", "mnist_dense", "--trials", "1"]):
        assert cli.main([*cmd, "--quick", "--workdir", str(tmp_path / "afile" / "sub")]) == 2
        assert "is a file; give another --workdir" in capsys.readouterr().err
    assert cli.main(["tune", "mnist_dense", "--quick", "--trials", "1", "--workdir", str(tmp_path / "t"),
                     "--storage", f"journal:{tmp_path / 'afile' / 'x.journal'}"]) == 2
    assert "give another --storage" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing made, the file untouched
    assert (tmp_path / "afile").read_text() == "mine"

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "r" / "metrics.jsonl"))
    monkeypatch.setattr(api, "run", full)
    assert cli.main(["run", "mnist_dense", "--quick", "--workdir", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "checkpoints included, are kept" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
