"""The benchmarks' own arithmetic and references: FLOP counts by hand, and the Keras / PyTorch
reference models have exactly aejax's parameter counts (so the comparisons are like for like).

Timings are never asserted here: speed numbers come from running benchmarks/*.py.
"""
import importlib.util
import os
from pathlib import Path

import jax
import numpy as np
import pytest

from aejax import experiment, models

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _aejax_params(exp_name):
    cfg = experiment.load(exp_name).get_config()
    model = models.build(cfg["model"], (28, 28, 1))
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
