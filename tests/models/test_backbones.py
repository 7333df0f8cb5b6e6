"""aejax.models.backbones: the standard parameter counts (counted with jax.eval_shape, nothing
allocated), the trunks' output shapes, and each trunk as an autoencoder's encoder."""
import jax
import jax.numpy as jnp
import pytest

from aejax import models
from aejax.models import backbones as bb


@pytest.mark.parametrize("name", sorted(bb.STANDARD_COUNTS))
def test_standard_parameter_counts(name):
    want, shape = bb.STANDARD_COUNTS[name]
    assert bb.count_params(bb.backbone(name), shape) == want
    assert {"alexnet": 62_378_344, "vgg16": 138_357_544, "resnet18": 11_689_512}[name] == want


def test_resnet18_group_norm_has_the_batch_norm_parameters_and_no_state():
    m = bb.ResNet18(norm="group")
    assert bb.count_params(m, (224, 224, 3)) == 11_689_512
    x = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)
    assert set(jax.eval_shape(lambda x: m.init(jax.random.key(0), x), x)) == {"params"}
    assert "batch_stats" in jax.eval_shape(lambda x: bb.ResNet18().init(jax.random.key(0), x), x)


def test_inception_module_parameters_and_channels():
    c1, c3r, c3, c5r, c5, pp = bb.GOOGLENET_MODULES["3a"]
    m = bb.InceptionModule(c1, c3r, c3, c5r, c5, pp)
    want = (192 * c1 + c1) + (192 * c3r + c3r) + (9 * c3r * c3 + c3) + (192 * c5r + c5r) + (25 * c5r * c5 + c5) \
        + (192 * pp + pp)
    assert bb.count_params(m, (28, 28, 192)) == want == 163_696
    x = jax.ShapeDtypeStruct((2, 28, 28, 192), jnp.float32)
    out = jax.eval_shape(lambda x: m.init_with_output(jax.random.key(0), x)[0], x)
    assert out.shape == (2, 28, 28, 256)


@pytest.mark.parametrize("name,shape,feat", [("alexnet", (227, 227, 3), (6, 6, 256)), ("vgg16", (224, 224, 3), (7, 7, 512)),
                                             ("resnet18", (224, 224, 3), (7, 7, 512)),
                                             ("googlenet", (224, 224, 3), (7, 7, 1024))])
def test_trunk_and_logit_shapes(name, shape, feat):
    m = bb.backbone(name)
    x = jax.ShapeDtypeStruct((2, *shape), jnp.float32)
    variables = jax.eval_shape(lambda x: m.init(jax.random.key(0), x), x)
    assert jax.eval_shape(lambda v, x: m.apply(v, x, method="features"), variables, x).shape == (2, *feat)
    assert jax.eval_shape(lambda v, x: m.apply(v, x), variables, x).shape == (2, 1000)


@pytest.mark.parametrize("name", sorted(bb.BACKBONES))
def test_each_trunk_encodes_a_101_pixel_image_and_decodes_it_back(name):
    m = models.build({"name": "backbone_ae", "encoder_backbone": name, "width": 0.125}, (101, 101, 1))
    x = jax.ShapeDtypeStruct((2, 101, 101, 1), jnp.float32)
    variables = jax.eval_shape(lambda x: m.init(jax.random.key(0), x), x)
    code = jax.eval_shape(lambda v, x: m.apply(v, x, method="encode"), variables, x)
    assert code.shape[0] == 2 and code.shape[-1] == 16 and code.shape[1] <= 4
    assert jax.eval_shape(lambda v, x: m.apply(v, x), variables, x).shape == (2, 101, 101, 1)


def test_a_real_forward_pass_of_the_backbone_autoencoder_is_in_0_1():
    m = bb.BackboneAE(out_shape=(70, 70, 1), encoder_backbone="resnet18", width=0.125)
    x = jnp.linspace(0, 1, 2 * 70 * 70).reshape(2, 70, 70, 1)
    y = jax.jit(m.init_with_output)(jax.random.key(0), x)[0]
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
