"""aejax.data.seismic: the seismic sources (seismic_synth, tgs:DIR, segy:FILE)."""
from __future__ import annotations

import numpy as np
import pytest

from aejax.data import load
from aejax.data.seismic import FACTORS, seismic_synth, synthesize
from aejax.errors import UserError


@pytest.fixture(scope="module")
def synth():
    """600 synthetic images (3 generation chunks) with seed 0."""
    return seismic_synth(seed=0, n=600)


# ---- seismic_synth ------------------------------------------------------------------

def test_synth_shapes_dtypes_ranges(synth):
    x, y, ex = synth.train.x, synth.train.y, synth.train.extras
    assert x.shape == (600, 101, 101, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert 0.4 < x.mean() < 0.6 and x.std() > 0.1
    assert y.dtype == np.int32 and set(np.unique(y)) <= {0, 1}
    mask = ex["mask"]
    assert mask.shape == (600, 101, 101) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    assert np.array_equal(y, mask.reshape(600, -1).max(axis=1))
    assert synth.test is None
    assert synth.meta["kind"] == "image" and synth.meta["classes"] == 2
    assert list(synth.meta["factors"]) == list(FACTORS)
    for name in ("salt_coverage", "dip", "wavelet_freq", "depth"):
        assert name in ex and ex[name].shape == (600,) and ex[name].dtype == np.float32
    np.testing.assert_allclose(ex["salt_coverage"], mask.mean(axis=(1, 2)), atol=1e-6)
    assert 18 <= ex["wavelet_freq"].min() and ex["wavelet_freq"].max() <= 40
    assert np.abs(ex["dip"]).max() <= 25 and 50 <= ex["depth"].min() and ex["depth"].max() <= 960


def test_synth_label_balance_and_coverage_spread(synth):
    y, cov = synth.train.y, synth.train.extras["salt_coverage"]
    assert 0.45 <= y.mean() <= 0.65
    salty = cov[cov > 0]
    assert salty.min() < 0.1 and salty.max() > 0.9 and 0.3 < np.median(salty) < 0.7


def test_synth_deterministic_and_seed_dependent(synth):
    again = seismic_synth(seed=0, n=600)
    assert np.array_equal(again.train.x, synth.train.x)
    assert np.array_equal(again.train.extras["mask"], synth.train.extras["mask"])
    other = seismic_synth(seed=1, n=600)
    assert not np.array_equal(other.train.x, synth.train.x)
    x_small, mask_small, fac_small = synthesize(300, seed=0)   # a prefix: n does not matter
    assert np.array_equal(x_small, synth.train.x[:300])
    assert np.array_equal(fac_small["dip"], synth.train.extras["dip"][:300])


def test_synth_options_and_bad_options():
    x, mask, fac = synthesize(20, seed=3, peak_freq=(30, 30), noise=0.0, salt_fraction=0.0)
    assert np.all(fac["wavelet_freq"] == 30) and mask.sum() == 0
    with pytest.raises(UserError, match="peak_freq"):
        synthesize(4, peak_freq=(40, 10))
    with pytest.raises(UserError, match="noise"):
        synthesize(4, noise="lots")


def test_synth_through_registry():
    ds = load("seismic_synth", seed=0, options={"n": 300})
    assert len(ds.train) + len(ds.val) + len(ds.test) == 300
    assert ds.example_shape == (101, 101, 1)
    assert ds.train.extras["mask"].shape[0] == len(ds.train)


# ---- tgs:DIR ------------------------------------------------------------------------

def _write_tgs(root, n=5, depths=True):
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    ids = [f"{i:04x}abcd" for i in range(n)]
    for i, name in enumerate(ids):
        img = rng.integers(0, 256, (101, 101), dtype=np.uint8)
        mode = "RGB" if i == 0 else "L"                          # TGS ships RGB-looking PNGs
        Image.fromarray(np.stack([img] * 3, -1) if mode == "RGB" else img).save(root / "images" / f"{name}.png")
        mask = np.zeros((101, 101), np.uint8)
        if i % 2:
            mask[50:, :30 * i] = 255
        Image.fromarray(mask).save(root / "masks" / f"{name}.png")
    if depths:
        rows = "".join(f"{name},{100 + 10 * i}\n" for i, name in enumerate(ids[:-1]))
        (root / "depths.csv").write_text("id,z\n" + rows)
    return ids


def test_tgs_loads(tmp_path):
    ids = _write_tgs(tmp_path / "train")
    from aejax.data.seismic import tgs
    raw = tgs(str(tmp_path / "train"))
    x, y, ex = raw.train.x, raw.train.y, raw.train.extras
    assert x.shape == (5, 101, 101, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.tolist() == [0, 1, 0, 1, 0]
    assert ex["mask"].dtype == np.uint8 and ex["mask"][1, 60, 10] == 1 and ex["mask"][1, 10, 10] == 0
    np.testing.assert_array_equal(ex["depth"][:4], [100, 110, 120, 130])
    assert np.isnan(ex["depth"][4])                             # id missing from depths.csv
    assert ids[0] < ids[1]
    ds = load("tgs:" + str(tmp_path / "train"), seed=0, val_fraction=0.2, test_fraction=0.2)
    assert len(ds.train) + len(ds.val) + len(ds.test) == 5


def test_tgs_without_depths_or_masks(tmp_path):
    import shutil
    from aejax.data.seismic import tgs
    _write_tgs(tmp_path / "t", depths=False)
    raw = tgs(str(tmp_path / "t"))
    assert np.isnan(raw.train.extras["depth"]).all()
    shutil.rmtree(tmp_path / "t" / "masks")
    raw = tgs(str(tmp_path / "t"))
    assert (raw.train.y == -1).all() and "mask" not in raw.train.extras


def test_tgs_missing_mask(tmp_path):
    ids = _write_tgs(tmp_path)
    (tmp_path / "masks" / f"{ids[2]}.png").unlink()
    with pytest.raises(UserError, match=ids[2]):
        load("tgs:" + str(tmp_path))


def test_tgs_wrong_size(tmp_path):
    from PIL import Image
    ids = _write_tgs(tmp_path)
    Image.fromarray(np.zeros((100, 101), np.uint8)).save(tmp_path / "images" / f"{ids[3]}.png")
    with pytest.raises(UserError, match=f"{ids[3]}.png.*101x100"):
        load("tgs:" + str(tmp_path))


def test_tgs_truncated_png(tmp_path):
    ids = _write_tgs(tmp_path)
    p = tmp_path / "masks" / f"{ids[1]}.png"
    data = p.read_bytes()
    p.write_bytes(data[:len(data) // 2])
    with pytest.raises(UserError, match=f"masks/{ids[1]}.png"):
        load("tgs:" + str(tmp_path))


def test_tgs_empty_and_bad_depths(tmp_path):
    (tmp_path / "empty" / "images").mkdir(parents=True)
    with pytest.raises(UserError, match="images"):
        load("tgs:" + str(tmp_path / "empty"))
    with pytest.raises(UserError, match="no directory"):
        load("tgs:" + str(tmp_path / "nowhere"))
    _write_tgs(tmp_path / "d")
    with open(tmp_path / "d" / "depths.csv", "a") as f:
        f.write("ffffabcd,deep\n")
    with pytest.raises(UserError, match=r"depths.csv:6:"):
        load("tgs:" + str(tmp_path / "d"))


# ---- segy:FILE ----------------------------------------------------------------------

def test_segy_patches(tmp_path):
    segyio = pytest.importorskip("segyio")
    rng = np.random.default_rng(0)
    vol = rng.standard_normal((3, 202, 210)).astype(np.float32)    # inlines, crosslines, samples
    path = tmp_path / "vol.sgy"
    segyio.tools.from_array(str(path), vol)
    ds_raw = __import__("aejax.data.seismic", fromlist=["segy"]).segy(str(path))
    x, ex = ds_raw.train.x, ds_raw.train.extras
    assert x.shape == (3 * 2 * 2, 101, 101, 1) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1 and (ds_raw.train.y == -1).all()
    assert ds_raw.meta["geometry"] == "inline"
    scale = ds_raw.meta["clip"]
    # patch order: section, sample block, trace block; rows = samples, columns = traces
    i = 1 * 4 + 1 * 2 + 0                                           # inline 2, samples 101.., traces 0..
    want = 0.5 + 0.5 * np.clip(vol[1, 0:101, 101:202].T / scale, -1, 1)
    np.testing.assert_allclose(x[i, :, :, 0], want, atol=1e-6)
    assert (ex["section"][i], ex["sample0"][i], ex["trace0"][i]) == (2, 101, 0)
    ds = load("segy:" + str(path), seed=0)
    assert len(ds.train) + len(ds.val) + len(ds.test) == 12


def test_segy_bad_files(tmp_path):
    segyio = pytest.importorskip("segyio")
    bad = tmp_path / "noise.sgy"
    bad.write_bytes(np.random.default_rng(0).bytes(20000))
    with pytest.raises(UserError, match="noise.sgy"):
        load("segy:" + str(bad))
    short = tmp_path / "short.sgy"
    segyio.tools.from_array(str(short), np.zeros((2, 120, 50), np.float32))
    with pytest.raises(UserError, match="short.sgy.*50 samples"):
        load("segy:" + str(short))
    with pytest.raises(UserError, match="no such file"):
        load("segy:" + str(tmp_path / "missing.sgy"))
