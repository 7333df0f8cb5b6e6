"""The benchmarks' own arithmetic and references: FLOP counts by hand, and the Keras / PyTorch
reference models have exactly aejax's parameter counts (so the comparisons are like for like).

Timings are never asserted here: speed numbers come from running benchmarks/*.py.
"""
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from aejax.run import builder, experiment
from helpers import metrics_rows, write_idx

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _aejax_params(exp_name):
    cfg = experiment.load(exp_name).get_config()
    model = builder.build(cfg, (28, 28, 1), cfg["train"]["batch_size"]).model
    shapes = jax.eval_shape(model.init, jax.random.key(0), jax.ShapeDtypeStruct((1, 28, 28, 1), np.float32))
    return cfg["model"], sum(int(np.prod(a.shape)) for a in jax.tree.leaves(shapes))


def test_flop_counts_by_hand():
    tp = _load("throughput")
    # dense 784-400-200-100-200-400-784: forward 2 * sum(in * out)
    fwd = tp.dense_forward_flops([784, 400, 200, 100, 200, 400, 784])
    assert sum(fwd) == 2 * (784 * 400 + 400 * 200 + 200 * 100 + 100 * 200 + 200 * 400 + 400 * 784) == 1_654_400
    assert tp.train_flops(fwd) == 3 * 1_654_400 - 2 * 784 * 400 == 4_336_000
    # course conv AE: 28x28 1->16, 14x14 16->8, 7x7 8->8, 14x14 8->16, 28x28 16->1, all 3x3
    conv_cfg = experiment.load("mnist_conv").get_config()["model"]
    layers = tp.course_conv_layers(conv_cfg)
    assert layers == [(28, 28, 3, 1, 16), (14, 14, 3, 16, 8), (7, 7, 3, 8, 8), (14, 14, 3, 8, 16), (28, 28, 3, 16, 1)]
    assert sum(tp.conv_forward_flops(layers)) == 2 * 9 * (784 * 16 + 196 * 128 + 49 * 64 + 196 * 128 + 784 * 16)


def test_dense_matmuls_does_the_models_training_products(monkeypatch):
    """The numpy roofline at the dense model's shapes multiplies exactly the FLOPs counted for it:
    forward, weight gradients, input gradients but the first layer's."""
    tp = _load("throughput")
    sizes = [784, 400, 200, 100, 200, 400, 784]
    ref = tp.DenseMatmuls(sizes, n=tp.BATCH * 2 + 3)  # two batches; the ragged rest is dropped
    done, matmul = [], np.matmul

    def counting(a, b, out=None):
        assert out is not None and out.shape == (a.shape[0], b.shape[1])
        done.append(2 * a.shape[0] * a.shape[1] * b.shape[1])
        return matmul(a, b, out=out)

    monkeypatch.setattr(np, "matmul", counting)
    ref.run()
    assert ref.samples == 2 * tp.BATCH
    assert len(done) == 2 * (3 * 6 - 1)
    assert sum(done) == ref.samples * tp.train_flops(tp.dense_forward_flops(sizes)) == ref.samples * 4_336_000


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_torch_reference_matches_aejax_params(kind):
    pytest.importorskip("torch")
    tp = _load("throughput")
    model_cfg, n = _aejax_params(f"mnist_{kind}")
    ref = tp.TorchEpoch(kind, model_cfg, n=256, fused=False)
    assert sum(p.numel() for p in ref.model.parameters()) == n


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_keras_reference_matches_aejax_params(kind):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    kr = _load("keras_reference")
    model_cfg, n = _aejax_params(f"mnist_{kind}")
    model = kr.build_model(keras, kind, model_cfg, (28, 28, 1))
    assert model.count_params() == n
    assert model.output_shape[1:] == ((784,) if kind == "dense" else (28, 28, 1))


def test_keras_reference_kernel_init_is_the_named_one():
    """--kernel-init he_uniform draws every Keras kernel within +-sqrt(6 / fan_in); the first layer's
    (3x3, 1 -> 16: fan_in 9, fan_out 144) reaches beyond glorot's bound sqrt(6 / 153)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    kr = _load("keras_reference")
    model = kr.build_model(keras, "conv", experiment.load("mnist_conv").get_config()["model"], (28, 28, 1),
                           kernel_init="he_uniform")
    kernels = [np.asarray(layer.kernel) for layer in model.layers if hasattr(layer, "kernel")]
    assert len(kernels) == 5
    for k in kernels:
        assert np.abs(k).max() <= np.sqrt(6 / (k.shape[0] * k.shape[1] * k.shape[2]))
    assert np.abs(kernels[0]).max() > np.sqrt(6 / 153)


def test_adam_keras_trains_exactly_like_keras():
    """Same initial weights, same 10 batches: aejax's step with optimizer adam_keras (eps 1e-7) ends
    where Keras' fit ends, up to float round-off; optax's adam with the same eps does not."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("needs Keras on the JAX backend")
    import jax.numpy as jnp

    from aejax.config import base_config
    from aejax.train.step import TrainState, train_step
    kr = _load("keras_reference")
    model_cfg = {"name": "dense", "hidden": [64], "latent_dim": 16}
    rng = np.random.default_rng(0)
    x = (rng.random((10 * 32, 784)) * (rng.random((10 * 32, 784)) > 0.7)).astype(np.float32)
    keras.utils.set_random_seed(0)
    km = kr.build_model(keras, "dense", model_cfg, (784,))
    km.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    w0 = km.get_weights()
    names = ["enc_0", "enc_1", "dec_0", "dec_1"]
    params = {n: {"kernel": jnp.asarray(w0[2 * i]), "bias": jnp.asarray(w0[2 * i + 1])} for i, n in enumerate(names)}
    km.fit(x, x, batch_size=32, epochs=1, shuffle=False, verbose=0)
    keras_w = km.get_weights()
    moved = {}
    for opt in ("adam_keras", "adam"):
        cfg = base_config()
        cfg["model"] = model_cfg
        cfg["train"].update(optimizer=opt, learning_rate=1e-3, adam_eps=1e-7, loss="mse", batch_size=32)
        task = builder.build(cfg, (784,), len(x)).task
        state = TrainState(jnp.zeros((), jnp.int32), params, task.tx.init(params))
        step = jax.jit(lambda s, b, task=task: train_step(task, s, b, b, jax.random.key(0)))
        for i in range(10):
            state, _ = step(state, jnp.asarray(x[32 * i:32 * (i + 1)]))
        ours = [np.asarray(state.params[n][k]) for n in names for k in ("kernel", "bias")]
        moved[opt] = max(float(np.abs(a - b).max()) for a, b in zip(ours, keras_w))
    assert moved["adam_keras"] < 1e-5 < moved["adam"]


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_keras_replay_starts_from_aejax_init(kind):
    """keras_reference.py --replay-aejax: the Keras model computes aejax's initial function for the
    seed, and each epoch's order is aejax's shuffle with the ragged batch dropped."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    from aejax.train.step import init_state
    kr = _load("keras_reference")
    cfg = experiment.load(f"mnist_{kind}").get_config()
    km = kr.build_model(keras, kind, cfg["model"], (28, 28, 1))
    order = kr.aejax_draws(km, cfg, (28, 28, 1), 3, 1000)
    built = builder.build(cfg, (28, 28, 1), 1000)
    model = built.model
    state, _ = init_state(built.task, (28, 28, 1), 3)
    x = np.random.default_rng(0).random((8, 28, 28, 1), np.float32)
    ours = np.asarray(model.apply({"params": state.params}, x)).reshape(8, -1)
    theirs = np.asarray(km.predict(x.reshape(8, -1) if kind == "dense" else x, verbose=0)).reshape(8, -1)
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
    b = cfg["train"]["batch_size"]
    e1, e2 = order(1), order(2)
    assert len(e1) == 1000 // b * b == len(set(e1.tolist())) and not np.array_equal(e1, e2)


def test_course_script_without_the_data_says_how_to_get_it(tmp_path, capsys):
    course = _load("course")
    assert course.main(["--data", str(tmp_path), "--root", str(tmp_path / "runs")]) == 2
    assert "apt-get install -y dataset-fashion-mnist" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing started, nothing written


def test_course_script_runs_the_three_side_by_side_and_reports_each(tmp_path):
    """Two epochs of each course run on 300 random images: the conv run starts on every CPU, the other
    two one after the other pinned to the last CPU; every run finishes and lands in the table."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 300), ("t10k", 100)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    out, cpus = tmp_path / "course.json", sorted(os.sched_getaffinity(0))
    assert _load("course").main(["--data", str(tmp_path), "--epochs", "2", "--root", str(tmp_path / "runs"),
                                 "--set", "analysis.enabled=false", "--set", "train.progress=false",
                                 "--json", str(out)]) == 0
    table = json.loads(out.read_text())
    rows = {r["experiment"]: r for r in table["runs"]}
    assert list(rows) == ["mnist_dense", "mnist_conv", "mnist_denoise"]
    for r in rows.values():
        assert r["exit"] == 0 and np.isfinite(r["test_mse"])
        assert len(metrics_rows(tmp_path / "runs" / r["experiment"])) == 2
    if len(cpus) >= 2:
        assert table["schedule"].startswith("side by side")
        assert rows["mnist_conv"]["cpus_at_start"] is None
        assert rows["mnist_dense"]["cpus_at_start"] == rows["mnist_denoise"]["cpus_at_start"] == cpus[-1:]
        assert table["total_s"] < sum(r["wall_s"] for r in rows.values())  # they overlapped


def test_course_pins_every_thread_and_ignores_a_left_over_metrics_file(tmp_path):
    course = _load("course")
    cpus = sorted(os.sched_getaffinity(0))
    sleeper = "import threading, time; [threading.Thread(target=time.sleep, args=(30,)).start() for _ in range(3)]"
    proc = subprocess.Popen([sys.executable, "-c", sleeper + "; time.sleep(30)"])
    try:
        deadline = time.time() + 30
        while len(os.listdir(f"/proc/{proc.pid}/task")) < 4 and time.time() < deadline:
            time.sleep(0.1)  # its three threads have started
        course.pin(proc.pid, set(cpus[-1:]))
        tids = os.listdir(f"/proc/{proc.pid}/task")
        assert len(tids) == 4 and all(os.sched_getaffinity(int(t)) == set(cpus[-1:]) for t in tids)
    finally:
        proc.kill()
        proc.wait()
    course.pin(proc.pid, set(cpus))  # an ended process: nothing to do, no error
    old = tmp_path / "metrics.jsonl"
    old.write_text('{"epoch": 1}\n')
    assert course.written_since(old, old.stat().st_mtime) and not course.written_since(old, time.time() + 1)
    assert not course.written_since(tmp_path / "missing.jsonl", 0.0)


def test_scan_convolutions_times_every_contender_and_restores_the_engine(tmp_path, monkeypatch):
    """A smoke run (two steps per epoch, one round): every contender is built and timed; the switch
    to XLA's gradients is undone afterwards."""
    from aejax.models import convolutions
    from aejax.train import programs, step
    programs_seeds_unrolled = programs.seeds_unrolled

    monkeypatch.setenv("AEJAX_TUNE_MALLOC", "0")  # leave this test process's allocator alone
    out = tmp_path / "scan.json"
    assert _load("scan_convolutions").main(["--n", "256", "--rounds", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    assert [r["contender"] for r in rows] == ["looped", "scanned (now)", "scanned (before)", "2 seeds (now)",
                                              "2 seeds (vmap)", "2 seeds (before)"]
    assert all(r["samples_per_s"] > 0 for r in rows)
    assert step.loop_body_convolutions is convolutions.loop_body_convolutions
    assert programs.seeds_unrolled is programs_seeds_unrolled
