"""The classic CNN backbones of seed 003 as Flax linen modules, and a conv autoencoder built on them.

- :class:`AlexNet` (Krizhevsky et al. 2012, one tower as the seed's table): 227x227x3 -> Conv 96
  11x11/4 -> MaxPool 3/2 -> Conv 256 5x5 (pad 2) -> MaxPool -> Conv 384, 384, 256 3x3 -> MaxPool
  [6x6x256] -> Dropout -> FC 4096 -> Dropout -> FC 4096 -> FC classes: 62,378,344 parameters
  with 1,000 classes (the seed's "62.3 million").
- :class:`VGG16` (configuration D): 13 3x3 convolutions (64, 64, M, 128, 128, M, 256 x3, M,
  512 x3, M, 512 x3, M) -> FC 4096, 4096, classes: 138,357,544 at 224x224x3.
- :class:`ResNet18` (He et al. 2015, torchvision's layout): 7x7/2 conv, 3x3/2 max-pool, four stages
  of two basic blocks (64, 128, 256, 512), global average pool, FC: 11,689,512 (convolutions without
  bias; each normalisation has a scale and a bias per channel, the batch statistics are not parameters).
- :class:`InceptionModule` (GoogLeNet's): 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max-pool -> 1x1,
  concatenated on channels; :class:`GoogLeNet` stacks nine of them (no auxiliary heads).

Each takes ``width`` (a multiplier on every channel count, 1 = the paper's) and ``classes``; each
has ``features(x)`` (the convolutional trunk, [B, h, w, C]) and ``__call__`` (logits [B, classes]).
They are registered (``model.name``) so configs can name them, but they are classifiers: the
autoencoder that uses one is :class:`BackboneAE` (``model.name=backbone_ae``,
``model.encoder_backbone=resnet18``). :func:`count_params` counts with ``jax.eval_shape``
(no memory, no random numbers: VGG-16's 138 M parameters in about a second).
"""
from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aejax.models.common import register
from aejax.models.convolutions import upsample_2x2


def _ch(c: int, width: float) -> int:
    """A channel count scaled by ``width`` (at least 1)."""
    return max(1, int(round(c * width)))


def _pool(x, k: int = 3, s: int = 2, pad="VALID"):
    return nn.max_pool(x, (k, k), strides=(s, s), padding=pad)


@register("alexnet")
class AlexNet(nn.Module):
    """AlexNet, one tower, no local response normalisation (the seed's table). 227x227x3 -> logits."""

    out_shape: Sequence[int] = (227, 227, 3)  # the input's shape (the name every model takes)
    classes: int = 1000
    width: float = 1.0
    dropout: float = 0.5

    def setup(self):
        w = self.width
        self.convs = [nn.Conv(_ch(96, w), (11, 11), strides=(4, 4), padding="VALID", name="conv1"),
                      nn.Conv(_ch(256, w), (5, 5), padding=((2, 2), (2, 2)), name="conv2"),
                      nn.Conv(_ch(384, w), (3, 3), padding=((1, 1), (1, 1)), name="conv3"),
                      nn.Conv(_ch(384, w), (3, 3), padding=((1, 1), (1, 1)), name="conv4"),
                      nn.Conv(_ch(256, w), (3, 3), padding=((1, 1), (1, 1)), name="conv5")]
        self.fcs = [nn.Dense(_ch(4096, w), name="fc6"), nn.Dense(_ch(4096, w), name="fc7"),
                    nn.Dense(self.classes, name="fc8")]
        self.drop = nn.Dropout(self.dropout)

    def features(self, x, *, train: bool = False):
        """[B, 227, 227, 3] -> [B, 6, 6, 256] (55 -> 27 -> 27 -> 13 -> 13 -> 6)."""
        del train
        c1, c2, c3, c4, c5 = self.convs
        x = _pool(nn.relu(c1(x)))       # [B, 27, 27, 96]
        x = _pool(nn.relu(c2(x)))       # [B, 13, 13, 256]
        x = nn.relu(c4(nn.relu(c3(x))))
        return _pool(nn.relu(c5(x)))    # [B, 6, 6, 256]

    def __call__(self, x, *, train: bool = False):
        h = self.features(x, train=train)
        h = h.reshape(h.shape[0], -1)  # [B, 9216]
        for fc in self.fcs[:-1]:
            h = nn.relu(fc(self.drop(h, deterministic=not train)))
        return self.fcs[-1](h)


VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


@register("vgg16")
class VGG16(nn.Module):
    """VGG-16 (configuration D): 3x3 'same' convolutions, 2x2 max-pools, three FC layers."""

    out_shape: Sequence[int] = (224, 224, 3)
    classes: int = 1000
    width: float = 1.0
    dropout: float = 0.5

    def setup(self):
        convs = [c for c in VGG16_LAYERS if c != "M"]
        self.convs = [nn.Conv(_ch(c, self.width), (3, 3), padding="SAME", name=f"conv{i + 1}")
                      for i, c in enumerate(convs)]
        self.fcs = [nn.Dense(_ch(4096, self.width), name="fc1"), nn.Dense(_ch(4096, self.width), name="fc2"),
                    nn.Dense(self.classes, name="fc3")]
        self.drop = nn.Dropout(self.dropout)

    def features(self, x, *, train: bool = False):
        """[B, 224, 224, 3] -> [B, 7, 7, 512]."""
        del train
        convs = iter(self.convs)
        for c in VGG16_LAYERS:
            x = _pool(x, 2, 2) if c == "M" else nn.relu(next(convs)(x))
        return x

    def __call__(self, x, *, train: bool = False):
        h = self.features(x, train=train)
        h = h.reshape(h.shape[0], -1)  # [B, 25088]
        for fc in self.fcs[:-1]:
            h = self.drop(nn.relu(fc(h)), deterministic=not train)
        return self.fcs[-1](h)


NORMS = ("batch", "group", "none")


class Norm(nn.Module):
    """The normalisation after a convolution: ``batch`` (running statistics in ``batch_stats``, used
    at evaluation), ``group`` (32 groups or fewer, no state: what an autoencoder trained by the pure
    train step can use), ``none``. ``batch`` and ``group`` have the same parameters (scale, bias)."""

    kind: str = "batch"

    @nn.compact
    def __call__(self, x, train: bool = False):
        if self.kind == "batch":
            return nn.BatchNorm(use_running_average=not train, momentum=0.9, name="bn")(x)
        if self.kind == "group":
            return nn.GroupNorm(num_groups=math.gcd(32, x.shape[-1]), name="gn")(x)
        if self.kind == "none":
            return x
        raise ValueError(f"unknown norm {self.kind!r}; expected one of {list(NORMS)}")


class BasicBlock(nn.Module):
    """ResNet's basic block: 3x3 conv -> norm -> ReLU -> 3x3 conv -> norm, plus the shortcut
    (a 1x1 strided conv + norm when the shape changes), then ReLU."""

    channels: int
    stride: int = 1
    norm: str = "batch"

    @nn.compact
    def __call__(self, x, train: bool = False):
        s = self.stride
        h = nn.Conv(self.channels, (3, 3), strides=(s, s), padding=((1, 1), (1, 1)), use_bias=False, name="conv1")(x)
        h = nn.relu(Norm(self.norm, name="norm1")(h, train))
        h = nn.Conv(self.channels, (3, 3), padding=((1, 1), (1, 1)), use_bias=False, name="conv2")(h)
        h = Norm(self.norm, name="norm2")(h, train)
        if s != 1 or x.shape[-1] != self.channels:
            x = nn.Conv(self.channels, (1, 1), strides=(s, s), use_bias=False, name="down_conv")(x)
            x = Norm(self.norm, name="down_norm")(x, train)
        return nn.relu(h + x)


@register("resnet18")
class ResNet18(nn.Module):
    """ResNet-18 as torchvision builds it (``norm='batch'``); ``norm='group'`` has the same parameters
    and no batch statistics."""

    out_shape: Sequence[int] = (224, 224, 3)
    classes: int = 1000
    width: float = 1.0
    norm: str = "batch"

    def setup(self):
        self.conv1 = nn.Conv(_ch(64, self.width), (7, 7), strides=(2, 2), padding=((3, 3), (3, 3)), use_bias=False,
                             name="conv1")
        self.norm1 = Norm(self.norm, name="norm1")
        self.blocks = [BasicBlock(_ch(ch, self.width), 2 if stage and not b else 1, self.norm,
                                  name=f"layer{stage + 1}_{b}")
                       for stage, ch in enumerate((64, 128, 256, 512)) for b in range(2)]
        self.fc = nn.Dense(self.classes, name="fc")

    def features(self, x, *, train: bool = False):
        """[B, 224, 224, 3] -> [B, 7, 7, 512] (stride 32)."""
        x = nn.relu(self.norm1(self.conv1(x), train))
        x = _pool(x, 3, 2, ((1, 1), (1, 1)))  # [B, 56, 56, 64]
        for block in self.blocks:
            x = block(x, train)
        return x

    def __call__(self, x, *, train: bool = False):
        return self.fc(self.features(x, train=train).mean(axis=(1, 2)))  # global average pool [B, 512]


class InceptionModule(nn.Module):
    """GoogLeNet's Inception module (with the 1x1 reductions): four branches on the same input,
    'same' padding, concatenated on channels -> [B, H, W, c1 + c3 + c5 + pool_proj]."""

    c1: int
    c3_reduce: int
    c3: int
    c5_reduce: int
    c5: int
    pool_proj: int

    @nn.compact
    def __call__(self, x):
        conv = lambda c, k, name: nn.Conv(c, (k, k), padding="SAME", name=name)  # noqa: E731
        b1 = nn.relu(conv(self.c1, 1, "b1")(x))
        b3 = nn.relu(conv(self.c3, 3, "b3")(nn.relu(conv(self.c3_reduce, 1, "b3_reduce")(x))))
        b5 = nn.relu(conv(self.c5, 5, "b5")(nn.relu(conv(self.c5_reduce, 1, "b5_reduce")(x))))
        bp = nn.relu(conv(self.pool_proj, 1, "pool_proj")(_pool(x, 3, 1, "SAME")))
        return jnp.concatenate([b1, b3, b5, bp], axis=-1)


#: GoogLeNet's nine modules (Szegedy et al. 2014, table 1): name -> (c1, c3r, c3, c5r, c5, pool_proj)
GOOGLENET_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


@register("googlenet")
class GoogLeNet(nn.Module):
    """GoogLeNet without its auxiliary classifiers and local response normalisation: stem, nine
    Inception modules with max-pools after 3b and 4e, global average pool, dropout 0.4, FC."""

    out_shape: Sequence[int] = (224, 224, 3)
    classes: int = 1000
    width: float = 1.0
    dropout: float = 0.4

    def setup(self):
        w = self.width
        self.conv1 = nn.Conv(_ch(64, w), (7, 7), strides=(2, 2), padding=((3, 3), (3, 3)), name="conv1")
        self.conv2_reduce = nn.Conv(_ch(64, w), (1, 1), name="conv2_reduce")
        self.conv2 = nn.Conv(_ch(192, w), (3, 3), padding="SAME", name="conv2")
        self.modules_ = [InceptionModule(*(_ch(c, w) for c in sizes), name=f"inception_{name}")
                         for name, sizes in GOOGLENET_MODULES.items()]
        self.drop = nn.Dropout(self.dropout)
        self.fc = nn.Dense(self.classes, name="fc")

    def features(self, x, *, train: bool = False):
        """[B, 224, 224, 3] -> [B, 7, 7, 1024]."""
        del train
        x = _pool(nn.relu(self.conv1(x)), 3, 2, "SAME")  # [B, 56, 56, 64]
        x = nn.relu(self.conv2(nn.relu(self.conv2_reduce(x))))
        x = _pool(x, 3, 2, "SAME")  # [B, 28, 28, 192]
        for name, module in zip(GOOGLENET_MODULES, self.modules_):
            if name in ("4a", "5a"):
                x = _pool(x, 3, 2, "SAME")
            x = module(x)
        return x

    def __call__(self, x, *, train: bool = False):
        h = self.features(x, train=train).mean(axis=(1, 2))  # [B, 1024]
        return self.fc(self.drop(h, deterministic=not train))


BACKBONES = {"alexnet": AlexNet, "vgg16": VGG16, "resnet18": ResNet18, "googlenet": GoogLeNet}

#: the standard parameter counts (1,000 classes, width 1) and the input each is quoted at
STANDARD_COUNTS = {"alexnet": (62_378_344, (227, 227, 3)), "vgg16": (138_357_544, (224, 224, 3)),
                   "resnet18": (11_689_512, (224, 224, 3))}


def count_params(module: nn.Module, input_shape: Sequence[int], method: str | None = None) -> int:
    """Trainable parameters of ``module`` on one input of ``input_shape`` (the ``params``
    collection only: batch statistics are not counted), from ``jax.eval_shape`` (nothing allocated)."""
    x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
    kw = {} if method is None else {"method": method}
    shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x, **kw), x)
    return int(sum(np.prod(a.shape) for a in jax.tree.leaves(shapes["params"])))


def backbone(name: str, **kw) -> nn.Module:
    """The backbone called ``name`` (ValueError naming the choices)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(BACKBONES)}")
    return BACKBONES[name](**kw)


@register("backbone_ae")
class BackboneAE(nn.Module):
    """A convolutional autoencoder whose encoder is a backbone's trunk (``encoder_backbone``).

    encode: ``features`` of the backbone at ``width`` (ResNet-18 with ``norm='group'``, stateless,
    so the pure train step trains it) -> 1x1 conv to ``latent_channels`` [B, h, w, latent_channels].
    decode: (nearest 2x upsampling -> 3x3 conv -> ReLU) until the code is at least the input's size,
    channels from ``decoder_channels`` halving (at least 8), crop, 3x3 conv to the input's channels,
    sigmoid. Inputs must be large enough for the trunk (AlexNet's 11x11/4 stem: >= 67 pixels).
    """

    out_shape: Sequence[int]
    encoder_backbone: str = "resnet18"
    width: float = 0.25
    latent_channels: int = 16
    decoder_channels: int = 64

    def setup(self):
        kw = {"norm": "group"} if self.encoder_backbone == "resnet18" else {}
        self.trunk = backbone(self.encoder_backbone, out_shape=tuple(self.out_shape), width=self.width, **kw)
        self.to_code = nn.Conv(self.latent_channels, (1, 1), name="to_code")
        self.decoder = UpDecoder(tuple(self.out_shape), self.decoder_channels, name="decoder")

    def encode(self, x, *, train: bool = False):
        """[B, H, W, C] -> code [B, h, w, latent_channels] (h = H / 32 for ResNet-18, rounded up)."""
        return self.to_code(self.trunk.features(x, train=train))

    def decode(self, z, *, train: bool = False):
        """code [B, h, w, latent_channels] -> reconstruction [B, H, W, C] in [0, 1]."""
        del train
        return self.decoder(z)

    def __call__(self, x, *, train: bool = False):
        return self.decode(self.encode(x, train=train), train=train)


class UpDecoder(nn.Module):
    """(nearest 2x upsampling -> 3x3 conv -> ReLU) until the map is at least ``out_shape``'s size,
    channels ``channels`` halving (at least 8), crop, 3x3 conv to ``out_shape``'s channels, sigmoid."""

    out_shape: Sequence[int]
    channels: int = 64

    @nn.compact
    def __call__(self, z):
        h, w = self.out_shape[0], self.out_shape[1]
        ups = max(0, math.ceil(math.log2(max(h / z.shape[1], w / z.shape[2]))))
        x = z
        for i in range(ups):
            x = nn.relu(nn.Conv(max(8, self.channels >> i), (3, 3), padding="SAME", name=f"up_{i}")(upsample_2x2(x)))
        x = x[:, :h, :w, :]  # [B, H, W, c]: 'same' pooling rounded sizes up, crop back
        return nn.sigmoid(nn.Conv(self.out_shape[-1], (3, 3), padding="SAME", name="out")(x))
