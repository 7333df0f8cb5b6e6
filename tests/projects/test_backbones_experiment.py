"""experiments/backbones.py --quick: the three standard counts in summary.json, exactly, and the
backbone-encoder autoencoder trained end to end (figures, report)."""
import pytest

from aejax import api
from aejax.errors import UserError


def test_quick_run_reports_the_standard_counts(tmp_path):
    s = api.run("backbones", quick=True, workdir=tmp_path, overrides=["data.options={\"n\": 60}"])
    assert (s["params/alexnet"], s["params/vgg16"], s["params/resnet18"]) == (62_378_344, 138_357_544, 11_689_512)
    assert s["epochs_run"] == 2 and s["test/mse"] < 0.2
    assert (tmp_path / "figures" / "test_reconstructions.png").exists() and (tmp_path / ".aejax-complete").exists()


def test_an_unknown_backbone_is_refused():
    with pytest.raises(UserError, match="model.encoder_backbone"):
        api.run("backbones", quick=True, overrides=["model.encoder_backbone=resnet50"])
