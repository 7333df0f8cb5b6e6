"""aejax.run.queue: a sweep directory as a work queue shared by concurrent ``aejax sweep`` workers.

Claims (the run directory's lock, O_EXCL) are won by exactly one process, carry a heartbeat, and a
stale one (dead process on this host, or a heartbeat older than the timeout) is taken over by
exactly one taker; a live one is left alone. End to end: three concurrent workers train every run
exactly once; a worker killed with SIGKILL has its run finished (resumed) by the next ones; a run
held by a worker on another host is skipped, then taken over once its heartbeat is stale; grouped
runs are claimed one by one and the ones a worker got train in one program; the tables are
written once, by the last worker, or by ``--collect``.
"""
from __future__ import annotations

import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from aejax import api
from aejax.errors import UserError
from aejax.run import engine, queue, sweep
from aejax.run.rundir import LOCK, MARKER, RunDir
from helpers import FAST, ROOT, metrics_rows, seeds_only_experiment, set_args


def _lock(rd: RunDir, age_s: float = 0.0, **info) -> os.stat_result:
    """Write a lock as another process would (``info``), last touched ``age_s`` ago."""
    rd.lock_path.write_text(json.dumps(info))
    t = time.time() - age_s
    os.utime(rd.lock_path, (t, t))
    return os.stat(rd.lock_path)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture
def run_dir(tmp_path):
    queue.make_run_dir(tmp_path / "r")
    return RunDir(tmp_path / "r")


def _within(seconds, cond) -> bool:
    """Poll ``cond`` until it holds or ``seconds`` pass (a heartbeat thread on a loaded box)."""
    deadline = time.time() + seconds
    while not cond():
        if time.time() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_claim_heartbeat_and_release(run_dir):
    assert run_dir.is_run() and [p.name for p in run_dir.path.iterdir()] == [MARKER]
    claim = queue.try_claim(run_dir, heartbeat_s=0.05)
    assert claim is not None
    info = json.loads(run_dir.lock_path.read_text())
    assert (info["pid"], info["host"], info["heartbeat_s"]) == (os.getpid(), socket.gethostname(), 0.05)
    old = time.time() - 3600
    os.utime(run_dir.lock_path, (old, old))
    assert _within(10, lambda: os.stat(run_dir.lock_path).st_mtime > old + 3000)  # the heartbeat touched it
    claim.release()
    assert not run_dir.lock_path.exists() and not claim._thread.is_alive()
    assert queue.try_claim(run_dir) is not None  # free again


def test_live_claims_are_left_alone_and_stale_ones_taken_over(run_dir, capsys):
    clock = queue.FsClock(run_dir.path)
    # another host, heartbeat fresh: live
    _lock(run_dir, pid=4242, host="elsewhere", since="t", heartbeat_s=1.0)
    assert queue.try_claim(run_dir, stale_after_s=5, clock=clock) is None
    assert queue.live_holder(run_dir, 5, clock)["host"] == "elsewhere"
    # a lock without a heartbeat (aejax run, an older aejax) on another host: never stale
    _lock(run_dir, 3600, pid=4242, host="elsewhere", since="t")
    assert queue.try_claim(run_dir, stale_after_s=5, clock=clock) is None
    # this host, process alive: live, whatever its heartbeat says
    _lock(run_dir, 10, pid=os.getppid(), host=socket.gethostname(), since="t")
    assert queue.try_claim(run_dir, stale_after_s=5, clock=clock) is None
    # another host, heartbeat 60 s old with a 5 s timeout: taken over
    _lock(run_dir, 60, pid=4242, host="elsewhere", since="t", heartbeat_s=1.0)
    claim = queue.try_claim(run_dir, stale_after_s=5, clock=clock)
    assert claim is not None and json.loads(run_dir.lock_path.read_text())["pid"] == os.getpid()
    assert "taking over the claim of process 4242 on elsewhere since t: its heartbeat is 60 s old" in \
        capsys.readouterr().err
    claim.release()
    # ... but never before three of its own heartbeats
    _lock(run_dir, 60, pid=4242, host="elsewhere", since="t", heartbeat_s=30.0)
    assert queue.try_claim(run_dir, stale_after_s=5, clock=clock) is None
    # this host, process gone: taken over at once
    pid = _dead_pid()
    _lock(run_dir, 0, pid=pid, host=socket.gethostname(), since="t", heartbeat_s=10.0)
    claim = queue.try_claim(run_dir, clock=clock)
    assert claim is not None and f"process {pid} on this host is no longer running" in capsys.readouterr().err
    claim.release()


def test_take_over_leaves_a_lock_that_replaced_the_stale_one(run_dir):
    seen = _lock(run_dir, 600, pid=1, host="elsewhere", since="old", heartbeat_s=1.0)
    run_dir.lock_path.unlink()  # another taker removed it and claimed the run
    _lock(run_dir, pid=2, host="elsewhere", since="new", heartbeat_s=1.0)
    assert not queue.take_over(run_dir.lock_path, seen, "taken")
    assert json.loads(run_dir.lock_path.read_text())["since"] == "new"
    run_dir.lock_path.with_name(LOCK + ".takeover").touch()  # another taker is deciding: hands off
    assert not queue.take_over(run_dir.lock_path, queue.read_holder(run_dir.lock_path)[1], "taken")
    run_dir.lock_path.with_name(LOCK + ".takeover").unlink()
    assert [p.name for p in run_dir.path.iterdir() if p.name.startswith(LOCK)] == [LOCK]


def test_a_takeover_mutex_left_by_a_dead_taker_is_cleared(run_dir):
    seen = _lock(run_dir, 600, pid=1, host="elsewhere", since="old", heartbeat_s=1.0)
    mutex = run_dir.lock_path.with_name(LOCK + ".takeover")
    mutex.touch()
    os.utime(mutex, (time.time() - 600, time.time() - 600))  # its taker died inside, long ago
    assert not queue.take_over(run_dir.lock_path, seen, "taken") and not mutex.exists()
    assert queue.take_over(run_dir.lock_path, seen, "taken") and not run_dir.lock_path.exists()


def test_a_lost_claim_is_noticed_and_the_new_holder_kept(run_dir):
    claim = queue.try_claim(run_dir, heartbeat_s=0.05)
    run_dir.lock_path.unlink()
    _lock(run_dir, pid=4242, host="elsewhere", since="t", heartbeat_s=1.0)  # taken over meanwhile
    assert _within(10, lambda: claim.lost is not None)  # the next heartbeat notices (a busy box: later)
    with pytest.raises(queue.ClaimLost, match="claim lost"):
        claim.check()
    claim.release()
    assert json.loads(run_dir.lock_path.read_text())["pid"] == 4242


RACE = """
import json, sys
from pathlib import Path
from aejax.run import queue
from aejax.run.rundir import RunDir
base, names = Path(sys.argv[1]), sys.argv[2:]
sys.stdin.readline()  # go
won = []
for name in names:
    queue.make_run_dir(base / name)
    if queue.try_claim(RunDir(base / name), heartbeat_s=60, stale_after_s=5) is not None:
        won.append(name)
print(json.dumps(won), flush=True)
sys.stdin.read()  # hold the claims until every racer is done
"""


@pytest.mark.parametrize("stale", [False, True])
def test_of_concurrent_claimers_exactly_one_wins_each_run(tmp_path, stale):
    """Six processes race for 30 new run directories, or for 30 stale claims of a dead host."""
    names = [f"run{i:02d}" for i in range(30)]
    if stale:
        for name in names:
            queue.make_run_dir(tmp_path / name)
            _lock(RunDir(tmp_path / name), 600, pid=1, host="gone", since="t", heartbeat_s=1.0)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", RACE, str(tmp_path), *names], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(6)]
    time.sleep(1.0)  # let them all import
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    lines = [p.stdout.readline() for p in procs]
    for p, line in zip(procs, lines):
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0 and line, f"a racer failed (exit {p.returncode}): {err[-3000:]}"
    won = [json.loads(line) for line in lines]
    assert sorted(n for w in won for n in w) == names  # every run claimed, none twice
    assert not list(tmp_path.glob(".aejax-new.*")) and not list(tmp_path.glob(f"*/{LOCK}.*"))  # no mutex left


def test_shard_plans():
    assert sweep.shard_plan("1/3", 7, env={}) == ([1, 4], "shard 1/3: groups 1, 4, ... only")
    assert sweep.shard_plan("0/1", 3, env={"SLURM_ARRAY_TASK_ID": "2"})[0] == [0, 1, 2]  # static: env ignored
    slurm = {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"}
    assert sweep.shard_plan("auto", 8, env=slurm) == ([4, 5, 6, 7, 0, 1, 2, 3],
                                                      "--shard auto: task 2 of 4, starting at group 4")
    assert sweep.shard_plan("auto", 4, env={"JOB_COMPLETION_INDEX": "5"})[0] == [1, 2, 3, 0]  # no count: 5 % 4
    k8s = {"JOB_COMPLETION_INDEX": "1", "AEJAX_SHARD_COUNT": "2"}
    assert sweep.shard_plan("auto", 6, env=k8s)[0] == [3, 4, 5, 0, 1, 2]
    order, note = sweep.shard_plan("auto", 3, env={})
    assert order == [0, 1, 2] and "no SLURM_ARRAY_TASK_ID" in note
    with pytest.raises(UserError, match=r"\$JOB_COMPLETION_INDEX='x' is not an integer"):
        sweep.shard_plan("auto", 3, env={"JOB_COMPLETION_INDEX": "x"})
    with pytest.raises(UserError, match="expected I/N"):
        sweep.shard_plan("3/3", 3, env={})



def test_collect_needs_an_existing_sweep_directory(tmp_path):
    with pytest.raises(UserError, match="--collect: .*nope does not exist"):
        api.sweep("mnist_dense", workdir=tmp_path / "nope", quick=True, collect=True)
    assert not (tmp_path / "nope").exists()


def test_sweep_md_has_mean_std_and_a_student_t_interval():
    lo, hi = sweep.confidence_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2 degrees of freedom) * std 1 / sqrt(3)
    assert (lo, hi) == pytest.approx((2 - half, 2 + half))
    assert all(math.isnan(v) for v in sweep.confidence_interval([5.0]))
    rows = [{"m": 4, "seed": s, "run": f"r{s}", "test/mse": v} for s, v in enumerate([1.0, 2.0, 3.0])]
    md = sweep.markdown_table(rows, ["m", "seed"], ["test/mse"], 4, {"m=4,seed=3": "not trained yet"})
    assert "| m | n | test/mse | test/mse 95% CI |" in md
    assert f"| 4 | 3 | 2 ± 1 | [{2 - half:.5g}, {2 + half:.5g}] |" in md
    assert "Not finished (1): m=4,seed=3 (not trained yet)" in md


def test_a_run_held_elsewhere_is_skipped_then_taken_over_when_stale_and_groups_train_what_was_claimed(
        tmp_path, monkeypatch, capsys):
    exp = seeds_only_experiment(tmp_path, n_seeds=3)
    out = tmp_path / "sweep"
    names = [f"model.latent_dim=7,seed={s}" for s in range(3)]
    sets = FAST + ["sweep.vectorize_seeds=true", "sweep.heartbeat_s=1"]  # claims stale after 120 s
    programs = []
    real = engine.train
    monkeypatch.setattr(engine, "train", lambda e, cfgs, dirs, **kw: programs.append([d.path.name for d in dirs])
                        or real(e, cfgs, dirs, **kw))
    sweep.claim(out)
    queue.make_run_dir(out / names[1])
    held = RunDir(out / names[1])
    _lock(held, pid=4242, host="elsewhere", since="t", heartbeat_s=1.0)  # a live worker on another host

    api.sweep(exp, workdir=out, quick=True, overrides=sets)
    assert programs == [[names[0], names[2]]]  # the two it claimed, in one program
    text = capsys.readouterr().out
    assert "nothing left to claim; 1 run is being trained by other workers" in text
    assert not (out / "sweep.csv").exists()  # the other worker, still training, writes the tables

    api.sweep(exp, workdir=out, quick=True, overrides=sets, collect=True)  # --collect: from what is there
    rows = list(csv.DictReader(open(out / "sweep.csv")))
    assert sorted(r["run"] for r in rows) == [names[0], names[2]]
    assert f"Not finished (1): {names[1]} (being trained by process 4242 on elsewhere" in \
        (out / "sweep.md").read_text()
    assert "1 runs not finished" in capsys.readouterr().err
    assert programs == [[names[0], names[2]]]  # --collect trains nothing

    t = time.time() - 60
    os.utime(held.lock_path, (t, t))  # the other host went silent a minute ago
    api.sweep(exp, workdir=out, quick=True, overrides=sets + ["sweep.stale_after_s=5"])
    assert programs[1:] == [[names[1]]]
    assert "taking over the claim of process 4242 on elsewhere" in capsys.readouterr().err
    rows = list(csv.DictReader(open(out / "sweep.csv")))
    assert sorted(r["run"] for r in rows) == names and "Not finished" not in (out / "sweep.md").read_text()
    assert not list(out.glob(f"*/{LOCK}"))


FAST_DIGITS = FAST + ["data.name=digits", "model.hidden=[32]", "train.batch_size=64", "train.eval_batch_size=256"]
RUNS = [f"model.latent_dim={m},seed={s}" for m in (8, 32) for s in (0, 1)]  # mnist_dense's quick sweep


def _worker(workdir, sets):
    return subprocess.Popen([sys.executable, "-m", "aejax", "sweep", "mnist_dense", "--quick", "--workdir",
                             str(workdir), *set_args(sets)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def _finish(procs):
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (o, e) in zip(procs, outs):
        assert p.returncode == 0, e[-3000:]
    return [o for o, _ in outs], [e for _, e in outs]


def _trained(stdouts) -> list[str]:
    """The runs the workers started training (each `[k/N] NAME: 1 to train` line)."""
    return sorted(line.split("] ", 1)[1].split(":")[0] for o in stdouts for line in o.splitlines()
                  if line.endswith(": 1 to train"))


def test_three_concurrent_workers_train_every_run_exactly_once(tmp_path):
    stdouts, _ = _finish([_worker(tmp_path, FAST_DIGITS) for _ in range(3)])
    assert _trained(stdouts) == sorted(RUNS)
    for name in RUNS:
        assert [r["epoch"] for r in metrics_rows(tmp_path / name)] == [1, 2]
        assert RunDir(tmp_path / name).is_finished()
    assert sorted(r["run"] for r in csv.DictReader(open(tmp_path / "sweep.csv"))) == sorted(RUNS)
    assert sum("wrote sweep.csv" in o for o in stdouts) == 1  # the tables: written once
    assert (tmp_path / "report.html").exists() and not list(tmp_path.glob(f"**/{LOCK}"))


def test_a_killed_workers_run_is_finished_by_the_next_workers(tmp_path):
    sets = FAST_DIGITS + ["data.limit=300", "train.epochs=12", "train.checkpoint_every_s=0"]
    first = _worker(tmp_path, sets)
    deadline = time.time() + 240
    while time.time() < deadline and not any(len(p.read_text().splitlines()) >= 2
                                             for p in tmp_path.glob("*/metrics.jsonl")):
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed = [p.parent.name for p in tmp_path.glob("*/metrics.jsonl") if not RunDir(p.parent).is_finished()]
    assert len(killed) == 1 and (tmp_path / killed[0] / LOCK).exists()  # its claim is left behind
    done = [n for n in RUNS if RunDir(tmp_path / n).is_finished()]  # none, unless the box is very fast

    stdouts, stderrs = _finish([_worker(tmp_path, sets) for _ in range(2)])
    assert sum(f"taking over the claim of process {first.pid}" in e for e in stderrs) == 1
    assert any(f"{killed[0]} after epoch" in e for e in stderrs)  # resumed from its checkpoint
    assert _trained(stdouts) == sorted(set(RUNS) - set(done))  # the killed run once more (resumed), the others once
    assert [r["epoch"] for r in metrics_rows(tmp_path / killed[0])] == list(range(1, 13))
    assert sorted(r["run"] for r in csv.DictReader(open(tmp_path / "sweep.csv"))) == sorted(RUNS)


def test_a_worker_whose_claim_was_taken_stops_that_run(tmp_path, monkeypatch, capsys):
    exp = seeds_only_experiment(tmp_path, n_seeds=1)
    out = tmp_path / "sweep"
    real = engine.train

    def taken_meanwhile(e, cfgs, dirs, **kw):
        dirs[0].lock_path.unlink()  # as if this worker hung past the timeout and another took the run
        _lock(dirs[0], pid=4242, host="elsewhere", since="t", heartbeat_s=1.0)
        time.sleep(0.3)  # a few heartbeats: the thread notices
        return real(e, cfgs, dirs, **kw)
    monkeypatch.setattr(engine, "train", taken_meanwhile)
    api.sweep(exp, workdir=out, quick=True, overrides=FAST + ["sweep.heartbeat_s=0.05", "sweep.stale_after_s=60"])
    name = "model.latent_dim=7,seed=0"
    assert "claim lost (its lock now belongs to process 4242 on elsewhere" in capsys.readouterr().err
    assert [r["epoch"] for r in metrics_rows(out / name)] == [1]  # stopped after its first epoch
    assert not RunDir(out / name).is_finished() and json.loads((out / name / LOCK).read_text())["pid"] == 4242
    assert not (out / "sweep.csv").exists()  # the new holder is still training it
