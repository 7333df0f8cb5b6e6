"""aejax.projects.segmentation.salt, aejax.models.unet and experiments/salt_segmentation.py: the U-Net's
per-pixel logits, the scores' definitions, and a quick run writing both losses' numbers and figures."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax import api, models
from aejax.errors import UserError
from aejax.projects.segmentation import salt


@pytest.mark.parametrize("k", [1, 2, 7])
def test_unet_gives_k_logits_per_pixel_at_odd_sizes(k):
    m = models.build({"name": "unet", "features": [4, 8, 16], "out_channels": k}, (101, 101, 1))
    x = jax.ShapeDtypeStruct((2, 101, 101, 1), jnp.float32)
    variables = jax.eval_shape(lambda x: m.init(jax.random.key(0), x), x)
    assert jax.eval_shape(lambda v, x: m.apply(v, x), variables, x).shape == (2, 101, 101, k)
    assert jax.eval_shape(lambda v, x: m.apply(v, x, method="encode"), variables, x).shape == (2, 26, 26, 16)


def test_scores_are_pixel_accuracy_and_pooled_salt_iou():
    mask = np.zeros((2, 4, 4), np.uint8)
    mask[0, :2] = 1                      # 8 salt pixels
    pred = np.zeros((2, 4, 4), bool)
    pred[0, :1] = True                   # 4 of them found
    pred[1, 0, 0] = True                 # 1 false alarm
    s = salt.scores(pred, mask)
    assert s["pixel_accuracy"] == pytest.approx(27 / 32) and s["salt_iou"] == pytest.approx(4 / 9)
    assert salt.scores(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))["salt_iou"] == 1.0


def test_both_losses_predict_salt_where_the_logits_say_so():
    z2 = jnp.array([[[[0.0, 1.0], [1.0, 0.0]]]])  # [1, 1, 2, 2]: salt, not salt
    z1 = jnp.array([[[[2.0], [-2.0]]]])
    assert salt.LOSSES["softmax"][2](z2).tolist() == [[[True, False]]]
    assert salt.LOSSES["sigmoid"][2](z1).tolist() == [[[True, False]]]


def test_quick_run_trains_both_losses(tmp_path):
    s = api.run("salt_segmentation", quick=True, workdir=tmp_path,
                overrides=["data.options={\"n\": 60}", "train.epochs=1"])
    for loss in ("softmax", "sigmoid"):
        assert 0 <= s[f"test/salt_iou_{loss}"] <= 1 and 0 <= s[f"test/pixel_accuracy_{loss}"] <= 1
    assert s["params/softmax"] == s["params/sigmoid"] + 9  # one more 1x1 logit: 8 weights + 1 bias
    for name in ("segmentation_examples", "segmentation_curves"):
        assert (tmp_path / "figures" / f"{name}.png").exists()
    assert (tmp_path / ".aejax-complete").exists()


def test_a_model_that_is_not_a_unet_is_refused():
    with pytest.raises(UserError, match="model.name"):
        api.run("salt_segmentation", quick=True, overrides=["model.name=conv"])
