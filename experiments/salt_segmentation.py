"""Seed 002's question: "Cross Entropy Loss for Semantic Segmentation ... is the correct error function
to use categorical cross-entropy? ... the network seems to learn better with binary cross-entropy."

    aejax run salt_segmentation                        # seismic_synth, both losses, 12 epochs
    aejax run salt_segmentation --quick                # smoke run: 2 epochs on 120 images
    aejax run salt_segmentation --set seed=1           # another seed (the note compares seeds 0, 1, 2)
    aejax run salt_segmentation --set data.name=tgs:DIR --set 'data.options={}'   # the Kaggle TGS layout

A small U-Net (8-16-32 channels, :class:`aejax.models.unet.UNet`) maps a 101x101 seismic image to
per-pixel logits, trained on the salt masks of ``seismic_synth`` twice with everything else equal:
(a) 2 logits per pixel, a per-pixel softmax (over the channel axis, channels last: what the answer's
``depth_softmax`` does) and categorical cross-entropy; (b) 1 logit per pixel, a sigmoid and binary
cross-entropy. With two classes the softmax of (z0, z1) is the sigmoid of z1 - z0, so the two
losses are the same function of a different parametrisation: any difference is optimisation.

summary.json: ``test/pixel_accuracy_<loss>``, ``test/salt_iou_<loss>`` (pooled over the test
pixels); metrics.jsonl: training loss and validation IoU per epoch for both; figures:
segmentation_examples.png (images / true masks / both predictions), segmentation_curves.png.

Measured (default, seeds 0 / 1 / 2, ~300 s each on the 2 shared cores): test salt IoU softmax + CE
0.948 / 0.949 / 0.936 (mean 0.944), sigmoid + BCE 0.949 / 0.960 / 0.967 (mean 0.958); pixel
accuracy 0.984 vs 0.988. Sigmoid + BCE did better on every seed, by 0.001 to 0.031 IoU; at this
learning rate the softmax runs were the less stable ones (best epochs 8, 12, 9 against 12, 12, 12).

Code: :mod:`aejax.projects.segmentation.salt`, :func:`aejax.models.losses.softmax_cross_entropy`.
"""
from aejax.config import base_config
from aejax.projects.segmentation import salt

run = salt.run
resolve = salt.check


def get_config() -> dict:
    cfg = base_config()
    cfg["data"]["name"] = "seismic_synth"
    cfg["data"]["options"] = {"n": 1000}
    cfg["model"] = {"name": "unet", "features": [8, 16, 32], "out_channels": 2}  # out_channels: set per loss
    cfg["train"].update(epochs=12, batch_size=32, learning_rate=3e-3, optimizer="adam")
    cfg["segmentation"] = salt.section()
    cfg["analysis"]["enabled"] = False
    return cfg


def quick(cfg: dict) -> dict:
    from aejax.run.resolve import quick_config
    cfg["data"]["options"] = {"n": 120}
    return quick_config(cfg, limit=None, analysis=False, batch_size=16, progress=False)
