"""--set overrides: dotted keys, JSON values, unknown keys and wrong types refused."""
import pytest

from aejax import config
from aejax.errors import UserError


def test_override_parses_json_values():
    cfg = config.override(config.base_config(), ["train.epochs=3", "train.learning_rate=1e-2",
                                                 "data.name=idx:/tmp/x", "train.progress=false"])
    assert cfg["train"]["epochs"] == 3
    assert cfg["train"]["learning_rate"] == 0.01
    assert cfg["data"]["name"] == "idx:/tmp/x"
    assert cfg["train"]["progress"] is False


def test_int_to_float_is_fine_but_not_float_to_int():
    cfg = config.override(config.base_config(), ["train.learning_rate=1"])
    assert cfg["train"]["learning_rate"] == 1.0
    with pytest.raises(UserError, match="train.epochs=1.5: expected an integer like the default"):
        config.override(config.base_config(), ["train.epochs=1.5"])


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(UserError, match="'train.epoch'"):
        config.override(config.base_config(), ["train.epoch=3"])
    with pytest.raises(UserError, match="'trian'"):
        config.override(config.base_config(), ["trian.epochs=3"])
    with pytest.raises(UserError, match="KEY=VALUE"):
        config.override(config.base_config(), ["train.epochs"])
