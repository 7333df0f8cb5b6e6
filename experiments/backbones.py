"""Seed 003's classic CNNs: AlexNet ("a total of 62.3 million learnable parameters"), VGG-16 ("138
Million parameters"), ResNet-18 and GoogLeNet's Inception module, and a backbone as an autoencoder's encoder.

    aejax run backbones                          # counts + ResNet-18-trunk AE on seismic_synth (101x101)
    aejax run backbones --quick                  # counts + a 2-epoch smoke run of the same AE
    aejax run backbones --set model.encoder_backbone=alexnet      # or vgg16, googlenet

summary.json: ``params/alexnet`` (227x227x3, 1,000 classes: 62,378,344), ``params/vgg16``
(224x224x3: 138,357,544), ``params/resnet18`` (11,689,512), ``params/googlenet`` and
``params/inception_3a`` (the first module on 28x28x192), all counted with ``jax.eval_shape`` (no
weights allocated); then the autoencoder's usual numbers. The autoencoder (``backbone_ae``) encodes
with the backbone's convolutional trunk at ``model.width`` x its channels (ResNet-18 with group
norm: stateless, so the pure train step trains it), a 1x1 conv to ``latent_channels`` maps
(a 4x4x16 code for 101x101 inputs through ResNet-18's stride 32), and decodes by upsampling + 3x3
convolutions. Figures: the course's originals / codes / reconstructions and the loss curves.

Code: :mod:`aejax.models.backbones`.
"""
import json

from aejax.config import base_config
from aejax.errors import UserError


def get_config() -> dict:
    cfg = base_config()
    cfg["data"]["name"] = "seismic_synth"
    cfg["data"]["options"] = {"n": 1500}
    cfg["model"] = {"name": "backbone_ae", "encoder_backbone": "resnet18", "width": 0.25, "latent_channels": 16,
                    "decoder_channels": 64}
    cfg["train"].update(epochs=10, batch_size=32, learning_rate=1e-3, loss="mse", scan_epoch=False)
    cfg["analysis"]["enabled"] = False  # a 256-value spatial code; the latent analysis is not the point here
    return cfg


def quick(cfg: dict) -> dict:
    from aejax.run.resolve import quick_config
    cfg["data"]["options"] = {"n": 120}
    return quick_config(cfg, limit=None, analysis=False, batch_size=16, progress=False)


def resolve(cfg: dict) -> dict:
    from aejax.models.backbones import BACKBONES
    m = cfg["model"]
    if m.get("encoder_backbone") not in BACKBONES:
        raise UserError(f"model.encoder_backbone={json.dumps(m.get('encoder_backbone'))}: expected one of "
                        f"{sorted(BACKBONES)}")
    if not (isinstance(m.get("width"), (int, float)) and 0 < m["width"] <= 1):
        raise UserError(f"model.width={json.dumps(m.get('width'))}: expected a number in (0, 1]")
    return cfg


def after_training(*, cfg, workdir, trainer, params, data, arrays) -> dict:
    """The backbones' parameter counts, beside the autoencoder's numbers."""
    from aejax.models import backbones as bb
    counts = {f"params/{name}": bb.count_params(bb.backbone(name), shape)
              for name, (_, shape) in bb.STANDARD_COUNTS.items()}
    counts["params/googlenet"] = bb.count_params(bb.GoogLeNet(), (224, 224, 3))
    counts["params/inception_3a"] = bb.count_params(bb.InceptionModule(*bb.GOOGLENET_MODULES["3a"]), (28, 28, 192))
    return counts
