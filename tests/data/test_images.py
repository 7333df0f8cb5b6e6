"""aejax.data.images: the image sources (idx:DIR, tfds:NAME) and their errors."""

import numpy as np
import pytest

from aejax import data
from aejax.errors import UserError
from helpers import write_idx


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n, gz in (("train", 50, True), ("t10k", 20, False)):
        suffix = ".gz" if gz else ""
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), gz)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", rng.integers(0, 10, n), gz)
    return tmp_path


def test_idx_keeps_the_test_split_in_order(idx_dir):
    d = data.load(f"idx:{idx_dir}", seed=3, val_fraction=0.2)
    assert (len(d.train), len(d.val), len(d.test)) == (40, 10, 20)
    raw = np.frombuffer(open(idx_dir / "t10k-images-idx3-ubyte", "rb").read()[16:], np.uint8)
    np.testing.assert_allclose(d.test.x.ravel(), raw / 255.0, rtol=1e-6)


def test_truncated_idx_names_the_file(idx_dir):
    path = idx_dir / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte.*truncated"):
        data.load(f"idx:{idx_dir}")


def test_missing_idx_dir_names_offline_sources(tmp_path):
    with pytest.raises(UserError, match="mnist5k"):
        data.load(f"idx:{tmp_path / 'nope'}")


def test_tfds_unavailable_names_the_offline_sources(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(UserError, match="mnist5k.*digits.*idx:"):
        data.load("tfds:no_such_dataset_xyz", options={"data_dir": str(tmp_path)})


def test_tfds_offline_fails_at_once_naming_the_offline_sources(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    from aejax.data import images, network
    monkeypatch.setattr(network, "reachable", lambda host, **kw: host != images.TFDS_HOST)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                        lambda *a, **kw: pytest.fail("no download may be tried offline"))
    with pytest.raises(UserError, match="tfds:mnist: not prepared.*cannot be reached.*mnist5k.*digits.*idx:"):
        data.load("tfds:mnist", options={"data_dir": str(tmp_path)})


def test_network_check_is_bounded():
    from aejax.data import network
    assert not network.reachable("127.0.0.1:1", timeout=1.0)  # refused at once
    assert not network.reachable("host.invalid", timeout=1.0)  # no such name


def test_tfds_reads_a_prepared_array_record_dataset(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")

    class TinyDigits(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                # Tensor, not Image: encoding PNGs needs TensorFlow, which aejax does not.
                "image": tfds.features.Tensor(shape=(8, 8, 1), dtype=np.uint8),
                "label": tfds.features.ClassLabel(num_classes=3)}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(30, 0), "test": self._generate_examples(10, 1)}

        def _generate_examples(self, n, seed):
            rng = np.random.default_rng(seed)
            for i in range(n):
                yield i, {"image": rng.integers(0, 256, (8, 8, 1), dtype=np.uint8), "label": i % 3}

    TinyDigits(data_dir=str(tmp_path)).download_and_prepare(file_format="array_record")
    d = data.load("tfds:tiny_digits", seed=0, options={"data_dir": str(tmp_path)})
    assert d.test.x.shape == (10, 8, 8, 1) and len(d.train) + len(d.val) == 30
    assert d.train.x.dtype == np.float32 and d.train.x.max() <= 1.0
    assert list(d.test.y[:3]) == [0, 1, 2]
