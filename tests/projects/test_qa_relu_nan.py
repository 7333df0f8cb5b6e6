"""aejax.projects.qa.relu_nan and experiments/relu_nan.py: the question's deep ReLU network is NaN
within a few steps, He initialisation is not; a diverged run stops and keeps finite parameters."""
import json

import numpy as np
import pytest

from aejax import api, data, models
from aejax.config import base_config
from aejax.errors import UserError
from aejax.models.classifier import MLPClassifier
from aejax.models.backbones import count_params
from aejax.projects.qa import relu_nan


def test_the_classifier_has_the_question_s_shapes():
    m = models.build({"name": "mlp_classifier", "depth": 3, "width": 32}, (8, 8, 1))
    assert isinstance(m, MLPClassifier)
    assert count_params(m, (8, 8, 1)) == (64 * 32 + 32) + 2 * (32 * 32 + 32) + (32 * 10 + 10)


def _cfg(**model):
    cfg = base_config()
    cfg["model"] = {"name": "mlp_classifier", "depth": 12, "width": 512, "weight_init": "truncated_normal",
                    "weight_std": 0.1, "bias": 0.1, "last_std": 0.0, **model}
    cfg["train"].update(epochs=1, batch_size=100, learning_rate=0.02, optimizer="sgd")
    cfg["relu_nan"] = relu_nan.section()
    return cfg


@pytest.fixture(scope="module")
def digits():
    ds = data.load("mnist5k", seed=0, limit=400)
    return relu_nan._split(ds.train) + relu_nan._split(ds.test)


def test_question_init_is_nan_at_once_with_the_naive_loss_and_he_init_is_not(digits):
    x, y, xt, yt = digits
    naive = relu_nan.train_one(_cfg(), "naive", x, y, xt, yt)
    assert naive["nan_step"] == 0 and not np.isfinite(naive["loss"][0]) and np.isnan(naive["loss"][1:]).all()
    assert naive["init_scale"][-1] > 10 * naive["init_scale"][0]  # activations grow layer after layer
    he = relu_nan.train_one(relu_nan.variant_config(_cfg(), "he_init"), "naive", x, y, xt, yt)
    assert he["nan_step"] is None and np.isfinite(he["loss"]).all() and he["init_scale"][-1] < 3


def test_a_config_relu_nan_cannot_run_is_refused():
    cfg = _cfg()
    cfg["relu_nan"]["variants"] = ["question", "batchnorm"]
    with pytest.raises(UserError, match="relu_nan.variants"):
        relu_nan.check(cfg)
    with pytest.raises(UserError, match="train.optimizer"):
        relu_nan.check(dict(_cfg(), train=dict(_cfg()["train"], optimizer="adam")))


def test_quick_run_writes_its_numbers_and_figures(tmp_path):
    s = api.run("relu_nan", quick=True, workdir=tmp_path, overrides=[
        'relu_nan.variants=["question","clip_norm"]', 'relu_nan.loss_forms=["stable"]', "data.limit=300"])
    assert s["nan_step/question/stable"] is not None and s["nan_step/clip_norm/stable"] is None
    assert json.loads((tmp_path / "analysis" / "relu_nan.json").read_text())["question/stable"]["nan_step"] <= 5
    for name in ("relu_nan_loss", "relu_nan_grad_norm", "relu_nan_init_scale"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 0
    assert (tmp_path / ".aejax-complete").exists() and "NaN" in (tmp_path / "report.html").read_text()
