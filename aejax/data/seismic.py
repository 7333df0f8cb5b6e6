"""Seismic sources: ``seismic_synth``, ``tgs:DIR`` and ``segy:FILE``.

All three return float32 images in [0, 1], NHWC ``[N, 101, 101, 1]``, with the
time / depth axis running down the rows and traces side by side in the columns
(so :func:`aejax.data.columns.images_to_columns` gives one trace per example).
Amplitudes map as ``0.5 + 0.5 * clip(amplitude / scale, -1, 1)``: mid grey is
zero amplitude, as in the TGS Salt images.

``seismic_synth`` (pool of ``n`` images, default 4,000) builds TGS-Salt-like
images the way synthetic seismograms are built (convolutional model),
vectorised over chunks of images with numpy:

1. an earth model of acoustic impedance ``Z(z, x)`` on a grid 12 rows taller
   than the patch at each end: blocky sedimentary layers of random thickness
   (a few strong beds), a compaction trend with depth, regional dip, gentle
   folding growing with depth, drape over the salt and, in ~35 % of images, a
   fault offsetting the layers;
2. salt bodies: a smooth random field (Gaussian bumps at two scales plus a
   random trend, so salt usually comes in from below or a flank) thresholded at
   the quantile giving the image's target coverage; salt has a nearly constant,
   high impedance, so its inside is nearly reflection-free (only noise and a
   faint speckle) and its top is a strong positive reflector. 55 % of images
   hold salt by default, with coverages spread over (0, 1], some full;
3. reflectivity ``r = diff(Z) / (Z[1:] + Z[:-1])`` per trace (down the rows),
   laterally varying reflector strength, noise added to ``r`` (so it comes out
   band-limited, like real seismic noise);
4. convolution, trace by trace, with a zero-phase Ricker wavelet of the image's
   peak frequency: one small Toeplitz matmul per image.

Rows are 4 ms apart (4 m at 2,000 m/s two-way), so a 25 Hz wavelet has a
10-row period, as in the TGS images. Labels: 1 if the mask holds any salt.
Extras: ``mask`` [N, 101, 101] uint8 and the generating factors, float32 [N]:
``salt_coverage`` (fraction of the mask), ``dip`` (regional dip, degrees in
the image), ``wavelet_freq`` (Ricker peak, Hz), ``depth`` (depth of the patch
top, m, like TGS ``depths.csv``) and ``fault_throw`` (rows, 0 = no fault).
Options: ``n``, ``peak_freq`` (range, Hz), ``noise`` (0 = none), ``salt_fraction``,
``dip_max``, ``fault_prob``, ``depth_range``.

Determinism: images are generated in chunks of 256, chunk ``c`` from
``np.random.default_rng([seed, c])``, so a seed gives the same images whatever
``n`` is (``n=100`` is a prefix of ``n=4000``).

Measured speed (this machine: AMD Zen 3, 2 cores shared with other jobs, one
BLAS thread, numpy 2.4): 4,000 images in 1.5-1.9 s, i.e. about 2,300-2,700
images/s, masks and factors included.

``tgs:DIR`` reads the Kaggle TGS Salt layout (``DIR/images/*.png``,
``DIR/masks/*.png`` with the same names, ``DIR/depths.csv`` with columns
``id,z``, also looked for in DIR's parent as in the Kaggle download). Images
are converted to gray, masks binarised (any non-zero value is salt). A missing
``depths.csv`` or id gives depth NaN; a folder without ``masks/`` (the TGS test
set) gives labels -1 and no masks. ``segy:FILE`` reads a SEG-Y volume with
segyio and cuts each inline (or, without geometry, the whole file as one
section) into non-overlapping 101x101 patches, labels -1.
"""
from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import numpy as np

from aejax.data import Raw, Split, register
from aejax.errors import UserError

SIZE = 101                  # TGS patch size (rows = depth/time, columns = traces)
MARGIN = 12                 # extra rows above and below the patch in the earth model
DT = 0.004                  # seconds per row
DZ_M = 4.0                  # metres per row (2,000 m/s, two-way)
CHUNK = 256                 # images generated together (and the unit of the seeding)
FINE = 4                    # impedance-log samples per row (sub-pixel reflector positions)
AMP_SCALE = 0.085           # amplitude mapped to white (+1) / black (-1)
Z_SALT = 9.6                # salt impedance (10^6 kg m^-2 s^-1), about 4,450 m/s x 2.16 g/cc
FACTORS = ("salt_coverage", "dip", "wavelet_freq", "depth", "fault_throw")


def _bumps(n_out: int, spacing: float, lo: float) -> np.ndarray:
    """[n_out, K] Gaussian bumps of width ``spacing`` centred every ``spacing`` px."""
    centres = np.arange(lo - spacing, lo + n_out + spacing, spacing)
    pos = np.arange(n_out)[:, None] + lo
    return np.exp(-0.5 * ((pos - centres[None, :]) / spacing) ** 2).astype(np.float32)


def _low_rank(blocks: list) -> np.ndarray:
    """[n_img, R, C] sum of ``rows @ G @ cols.T`` over ``blocks = [(rows, G, cols), ...]``.

    ``rows`` [R, K] and ``cols`` [C, J] are bases (Gaussian bumps, linear trends,
    constants); ``G`` [n_img, K, J] the per-image coefficients. All blocks form one
    block-diagonal product, so the full-size output is written once.
    """
    R = np.concatenate([b[0] for b in blocks], axis=1)
    C = np.concatenate([b[2] for b in blocks], axis=1)
    G = np.zeros((len(blocks[0][1]), R.shape[1], C.shape[1]), np.float32)
    i = j = 0
    for rows, g, cols in blocks:
        G[:, i:i + rows.shape[1], j:j + cols.shape[1]] = g
        i, j = i + rows.shape[1], j + cols.shape[1]
    return (R @ G) @ C.T


def _ricker_operator(freq: np.ndarray) -> np.ndarray:
    """[n_img, SIZE, SIZE + 2*MARGIN - 1] convolution matrices of unit-peak zero-phase Rickers.

    Row ``a`` of the result applied to a reflectivity series on the earth-model
    grid gives the trace at patch row ``a`` (``r`` index ``k`` sits between
    model rows ``k`` and ``k + 1``): ``trace = T @ r`` is the trace-by-trace
    convolution, batched over images, as one float32 matmul per image.
    """
    n_r = SIZE + 2 * MARGIN - 1
    lags = np.arange(-n_r, n_r + 1, dtype=np.float32) * np.float32(DT)     # [2 n_r + 1]
    a = (np.pi * freq.astype(np.float32)[:, None] * lags[None, :]) ** 2     # [n, 2 n_r + 1]
    wavelet = (1.0 - 2.0 * a) * np.exp(-a)
    # trace row i (model row i + MARGIN) takes r[k] (top of model row k + 1) at lag i + MARGIN - 1 - k
    lag_idx = (np.arange(SIZE)[:, None] + MARGIN - 1 - np.arange(n_r)[None, :]) + n_r
    return wavelet[:, lag_idx]                                             # [n, SIZE, n_r]


def _chunk(rng, n: int, peak_freq, noise: float, salt_fraction: float, dip_max: float,
           fault_prob: float, depth_range) -> tuple[np.ndarray, np.ndarray, dict]:
    """Generate ``n`` images with one generator; see the module docstring."""
    H = W = SIZE
    He = H + 2 * MARGIN                                          # rows of the earth model
    f32 = np.float32

    def per_image(v):                                            # [n] -> [n, 1, 1] float32
        return np.asarray(v, f32)[:, None, None]

    ze = np.arange(He, dtype=f32)[None, :, None] - MARGIN        # [1, He, 1] row, 0 = patch top
    xc = np.arange(W, dtype=f32)[None, None, :] - (W - 1) / 2    # [1, 1, W] column from centre

    # ---- per-image generating factors -------------------------------------------
    freq = rng.uniform(peak_freq[0], peak_freq[1], n)
    dip = rng.uniform(-dip_max, dip_max, n)
    depth = rng.uniform(depth_range[0], depth_range[1], n)
    has_salt = rng.random(n) < salt_fraction
    cover = np.clip(rng.uniform(-0.08, 1.12, n), 0.015, 1.0)    # spread, incl. full patches
    cover = np.where(has_salt, cover, 0.0)
    has_fault = rng.random(n) < fault_prob
    throw = np.where(has_fault, rng.choice([-1.0, 1.0], n) * rng.uniform(3, 14, n), 0.0)

    # ---- salt body: smooth field + trend, thresholded at the coverage quantile -----
    ang = rng.normal(0.0, 0.9, n)                                # trend direction: 0 = salt below
    strength = rng.uniform(1.2, 3.5, n)
    rz = (ze[0] - H / 2) / H                                     # [He, 1] linear trend bases
    cx = xc[0, 0][:, None] / W                                   # [W, 1]
    ones_r, ones_c = np.ones_like(rz), np.ones_like(cx)
    b30r, b30c = _bumps(He, 30.0, -MARGIN), _bumps(W, 30.0, 0.0)
    b15r, b15c = _bumps(He, 15.0, -MARGIN), _bumps(W, 15.0, 0.0)
    normal = lambda k, j: rng.standard_normal((n, k, j), dtype=f32) * f32(0.8)  # noqa: E731
    field = _low_rank([                                          # [n, He, W]
        (b30r, normal(b30r.shape[1], b30c.shape[1]), b30c),      # broad shape
        (b15r, normal(b15r.shape[1], b15c.shape[1]) * per_image(rng.uniform(0.1, 0.45, n)), b15c),
        (rz, per_image(strength * np.cos(ang)), ones_c),         # salt from below ...
        (ones_r, per_image(strength * np.sin(ang)), cx)])        # ... or from a flank
    patch = field[:, MARGIN:MARGIN + H]
    sub = np.sort(patch[:, ::2, ::2].reshape(n, -1), axis=1)     # [n, 51 * 51]
    k = np.clip(((1.0 - cover) * sub.shape[1]).astype(np.int64), 0, sub.shape[1] - 1)
    thr = np.take_along_axis(sub, k[:, None], axis=1)[:, 0]
    thr = per_image(np.where(cover <= 0, np.inf, np.where(cover >= 1, -np.inf, thr)))
    mask = (patch > thr).astype(np.uint8)                        # [n, H, W]
    coarse_patch = patch[:, ::4, ::4]                            # boundary sharpness: mean |grad|
    grad = (np.abs(np.diff(coarse_patch, axis=1)).mean(axis=(1, 2))
            + np.abs(np.diff(coarse_patch, axis=2)).mean(axis=(1, 2))) / 4
    above = field - thr                                          # > 0 inside salt
    soft = np.clip(above * per_image(1.0 / (0.7 * grad + 1e-6)) + 0.5, 0.0, 1.0)

    # ---- layer geometry: relative geologic time t(z, x) ----------------------------
    fold_amp = per_image(rng.uniform(0.0, 7.0, n))
    fold_len = per_image(rng.uniform(70.0, 260.0, n))
    fold_ph = per_image(rng.uniform(0.0, 2 * np.pi, n))
    growth = per_image(rng.uniform(0.3, 1.0, n))                 # folds grow with depth
    drape = per_image(rng.uniform(1.5, 5.0, n))                  # layers bent up over salt
    f_x0 = per_image(rng.uniform(-35, 35, n))                    # fault position and hade
    f_tan = per_image(rng.choice([-1.0, 1.0], n) * np.tan(np.radians(rng.uniform(10, 35, n))))
    fold = fold_amp * np.sin(2 * np.pi * xc / fold_len + fold_ph)           # [n, 1, W]
    t = (ze - per_image(np.tan(np.radians(dip))) * xc
         + fold * (growth + (1 - growth) * (ze + MARGIN) / He)
         - drape * np.clip(above, -1.0, 1.0))
    side = np.clip(xc - (f_x0 + f_tan * (ze - H / 2)) + 0.5, 0.0, 1.0)
    t += per_image(throw) * side

    # ---- impedance log along t: blocky layers, a few strong beds, smoothed ---------
    t_lo, L = -MARGIN - 90.0, (He + 180) * FINE
    mean_thick = rng.uniform(2.5, 8.0, n)[:, None] * FINE        # log samples per layer
    layer = np.cumsum(rng.random((n, L)) < 1.0 / mean_thick, axis=1)      # [n, L] layer index
    bed = rng.standard_normal((n, L), dtype=f32) * np.where(rng.random((n, L)) < 0.1, 2.0, 1.0).astype(f32)
    log = np.take_along_axis(bed, np.minimum(layer, L - 1), axis=1)
    cs = np.cumsum(np.pad(log, ((0, 0), (FINE, 0)), mode="edge"), axis=1)
    log = ((cs[:, FINE:] - cs[:, :-FINE]) * f32(0.45 / FINE)).ravel()      # one-row box smoothing
    pos = t - f32(t_lo)
    pos *= FINE
    np.clip(pos, 0, L - 1, out=pos)
    pos += (np.arange(n, dtype=f32) * L)[:, None, None] + 0.5
    anomaly = log[pos.astype(np.int32)]                           # nearest of FINE per row
    depth_m = per_image(depth) + DZ_M * ze                        # compaction trend
    imp = 3.6 + 3.2 * np.clip(depth_m, 0, None) / 1000.0 + anomaly
    imp += soft * (f32(Z_SALT) - imp)                             # [n, He, W]

    # ---- reflectivity, reflector strength, noise, Ricker convolution ---------------
    r = np.diff(imp, axis=1)
    r /= imp[:, 1:] + imp[:, :-1]                                 # [n, He-1, W]
    b25r, b25c = _bumps(He - 1, 25.0, -MARGIN), _bumps(W, 25.0, 0.0)
    r *= _low_rank([(b25r, normal(b25r.shape[1], b25c.shape[1]) * f32(0.25), b25c),  # reflector
                    (ones_r[1:], np.ones((n, 1, 1), f32), ones_c)])                 # strength
    # white noise (uniform: Gaussian once band-limited by the wavelet) + speckle in the salt
    sigma = f32(noise * 0.03 * 1.4142) + f32(0.006 * 1.4142) * soft[:, 1:]
    u = rng.random((n, He - 1, W + 2), dtype=f32)                # [1 2 1] across traces: noise
    u = u[:, :, :-2] + u[:, :, 2:] + 2 * u[:, :, 1:-1] - f32(2)   # with some lateral coherence
    r += sigma * u
    trace = _ricker_operator(freq) @ r                            # [n, H, W]
    trace *= f32(0.5 / AMP_SCALE)
    np.clip(trace, -0.5, 0.5, out=trace)
    trace += 0.5
    factors = {"salt_coverage": np.count_nonzero(mask, axis=(1, 2)) / (H * W), "dip": dip, "wavelet_freq": freq,
               "depth": depth, "fault_throw": throw}
    return trace, mask, {k: v.astype(f32) for k, v in factors.items()}


def _pair(src: str, name: str, value, lo: float, hi: float) -> tuple[float, float]:
    """Validate an option holding a [low, high] pair (UserError naming source and option)."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise UserError(f"{src}: option {name}={value!r}: expected a pair [low, high] of numbers") from None
    if not (lo <= a <= b <= hi):
        raise UserError(f"{src}: option {name}={value!r}: expected {lo} <= low <= high <= {hi}")
    return a, b


def _number(src: str, name: str, value, lo: float, hi: float) -> float:
    """Validate a numeric option (UserError naming source and option)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{src}: option {name}={value!r}: expected a number") from None
    if not lo <= v <= hi:
        raise UserError(f"{src}: option {name}={value!r}: expected a number in [{lo}, {hi}]")
    return v


def _one_blas_thread():
    """Context limiting BLAS to one thread where threadpoolctl is available.

    The generator's matmuls are thousands of tiny products: a second BLAS
    thread gains nothing and, on a busy 2-core machine, made runs up to 5x slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def synthesize(n: int = 4000, *, seed: int = 0, peak_freq=(18.0, 40.0), noise: float = 0.1,
               salt_fraction: float = 0.55, dip_max: float = 25.0, fault_prob: float = 0.35,
               depth_range=(50.0, 960.0)) -> tuple[np.ndarray, np.ndarray, dict]:
    """Synthetic seismic images: ``(x [n,101,101,1] float32 in [0,1], mask [n,101,101] uint8, factors)``.

    ``factors`` maps each name in ``FACTORS`` to a float32 [n] array. See the
    module docstring for the physics and for the determinism contract.
    """
    n_images = _number("seismic_synth", "n", n, 1, 10_000_000)
    if n_images != int(n_images):
        raise UserError(f"seismic_synth: option n={n!r}: expected a whole number of images")
    n = int(n_images)
    if int(seed) < 0:
        raise UserError(f"seed={seed!r}: seismic_synth needs a non-negative seed")
    peak_freq = _pair("seismic_synth", "peak_freq", peak_freq, 1.0, 0.35 / DT)
    noise = _number("seismic_synth", "noise", noise, 0.0, 10.0)
    salt_fraction = _number("seismic_synth", "salt_fraction", salt_fraction, 0.0, 1.0)
    dip_max = _number("seismic_synth", "dip_max", dip_max, 0.0, 60.0)
    fault_prob = _number("seismic_synth", "fault_prob", fault_prob, 0.0, 1.0)
    depth_range = _pair("seismic_synth", "depth_range", depth_range, 0.0, 1e5)
    x = np.empty((n, SIZE, SIZE, 1), np.float32)
    masks = np.empty((n, SIZE, SIZE), np.uint8)
    factors = {k: np.empty(n, np.float32) for k in FACTORS}
    with _one_blas_thread():
        for c in range(0, n, CHUNK):
            rng = np.random.default_rng([int(seed), c // CHUNK])
            img, mask, fac = _chunk(rng, CHUNK, peak_freq, noise, salt_fraction, dip_max,
                                    fault_prob, depth_range)
            m = min(CHUNK, n - c)
            x[c:c + m, :, :, 0] = img[:m]
            masks[c:c + m] = mask[:m]
            for k in FACTORS:
                factors[k][c:c + m] = fac[k][:m]
    return x, masks, factors


@register("seismic_synth")
def seismic_synth(*, seed: int = 0, n: int = 4000, peak_freq=(18.0, 40.0), noise: float = 0.1,
                  salt_fraction: float = 0.55, dip_max: float = 25.0, fault_prob: float = 0.35,
                  depth_range=(50.0, 960.0)) -> Raw:
    """Synthetic TGS-like seismic images (layered earth, salt, Ricker) with masks and factors."""
    x, mask, factors = synthesize(n, seed=seed, peak_freq=peak_freq, noise=noise,
                                  salt_fraction=salt_fraction, dip_max=dip_max,
                                  fault_prob=fault_prob, depth_range=depth_range)
    y = mask.reshape(len(mask), -1).any(axis=1).astype(np.int32)
    return Raw(Split(x, y, {"mask": mask, **factors}), None,
               {"kind": "image", "classes": 2, "factors": list(FACTORS)})


# ---------------------------------------------------------------------------------
# tgs:DIR -- the Kaggle TGS Salt Identification layout
# ---------------------------------------------------------------------------------

def _read_png(path: Path) -> np.ndarray:
    """One 101x101 PNG as a 2-D array of raw gray values (RGB converted to gray).

    Returns uint8 for 8-bit files and uint16 / int32 for 16-bit ones; every
    problem is one UserError naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.size != (SIZE, SIZE):
                raise UserError(f"{path}: image is {im.size[0]}x{im.size[1]} pixels; "
                                f"tgs: expects {SIZE}x{SIZE} (TGS Salt patches)")
            if im.mode not in ("L", "1", "I", "I;16", "I;16B", "I;16L"):
                im = im.convert("L")                             # RGB(A), P, LA -> gray
            arr = np.asarray(im)
    except UserError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise UserError(f"{path}: cannot read PNG ({type(e).__name__}: {e}); the file is "
                        "truncated, corrupt or not an image") from None
    if arr.ndim != 2:
        raise UserError(f"{path}: expected a gray or RGB image, got array shape {arr.shape}")
    return arr


def _gray01(arr: np.ndarray) -> np.ndarray:
    """Raw gray values -> float32 in [0, 1] (8-bit / 16-bit by dtype and range)."""
    if arr.dtype == bool:
        return arr.astype(np.float32)
    full = 255.0 if arr.dtype == np.uint8 or arr.max(initial=0) <= 255 else 65535.0
    return np.clip(arr.astype(np.float32) / np.float32(full), 0.0, 1.0)


def _read_depths(path: Path) -> dict[str, float]:
    """TGS ``depths.csv`` (header ``id,z``) -> {id: depth}; bad rows name file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read depths file ({e})") from None
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    cols = [c.strip().lower() for c in header] if header else []
    if "id" not in cols or "z" not in cols:
        raise UserError(f"{path}:1: expected a header with columns id,z; got {header!r}")
    i_id, i_z = cols.index("id"), cols.index("z")
    depths: dict[str, float] = {}
    for line, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(cols):
            raise UserError(f"{path}:{line}: expected {len(cols)} fields (id,z), got {len(row)}: {row!r}")
        key = row[i_id].strip()
        try:
            z = float(row[i_z])
        except ValueError:
            raise UserError(f"{path}:{line}: depth z={row[i_z]!r} is not a number") from None
        if not key:
            raise UserError(f"{path}:{line}: empty id")
        depths[key] = z
    return depths


@register("tgs", takes_arg=True)
def tgs(directory: str, *, seed: int = 0) -> Raw:
    """TGS Salt layout: DIR/images/*.png, DIR/masks/*.png (same names), DIR/depths.csv (id,z)."""
    del seed
    root = Path(directory)
    img_dir, mask_dir = root / "images", root / "masks"
    if not img_dir.is_dir():
        raise UserError(f"tgs:{directory}: no directory {img_dir}; expected the TGS Salt layout "
                        "DIR/images/*.png, DIR/masks/*.png (same file names), DIR/depths.csv (id,z)")
    files = sorted(p for p in img_dir.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not files:
        raise UserError(f"{img_dir}: no .png images found (tgs: expects DIR/images/*.png)")
    has_masks = mask_dir.is_dir()
    x = np.empty((len(files), SIZE, SIZE, 1), np.float32)
    masks = np.zeros((len(files), SIZE, SIZE), np.uint8)
    for i, f in enumerate(files):
        x[i, :, :, 0] = _gray01(_read_png(f))
        if has_masks:
            mf = mask_dir / f.name
            if not mf.is_file():
                raise UserError(f"{f}: no mask for this image; expected {mf}")
            masks[i] = _read_png(mf) > 0
    # depths.csv sits in DIR or, in the Kaggle download, next to the train/ folder
    depth_file = next((p for p in (root / "depths.csv", root.parent / "depths.csv") if p.is_file()), None)
    table = _read_depths(depth_file) if depth_file else {}
    depth = np.array([table.get(f.stem, np.nan) for f in files], np.float32)
    meta = {"kind": "image", "classes": 2, "factors": ["salt_coverage", "depth"],
            "depths_file": str(depth_file) if depth_file else None, "has_masks": has_masks}
    if not has_masks:  # e.g. the TGS test folder: images only, labels unknown
        meta["factors"] = ["depth"]
        return Raw(Split(x, np.full(len(files), -1, np.int32), {"depth": depth}), None, meta)
    y = masks.reshape(len(files), -1).any(axis=1).astype(np.int32)
    coverage = (np.count_nonzero(masks, axis=(1, 2)) / (SIZE * SIZE)).astype(np.float32)
    return Raw(Split(x, y, {"mask": masks, "salt_coverage": coverage, "depth": depth}), None, meta)


# ---------------------------------------------------------------------------------
# segy:FILE -- a SEG-Y volume cut into 101x101 patches
# ---------------------------------------------------------------------------------

def _read_segy(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """SEG-Y -> (sections [S, traces, samples] float32, section numbers [S], geometry)."""
    import segyio

    try:
        with segyio.open(str(path), "r", ignore_geometry=False) as f:
            if not f.unstructured and len(f.ilines) and len(f.xlines):
                vol = np.stack([np.asarray(f.iline[il], np.float32) for il in f.ilines])
                return vol, np.asarray(f.ilines, np.int64), "inline"
    except Exception:  # noqa: BLE001 - segyio raises RuntimeError/ValueError/...; retry flat
        pass
    try:
        with segyio.open(str(path), "r", ignore_geometry=True) as f:
            traces = np.asarray(f.trace.raw[:], np.float32)     # [traces, samples]
    except Exception as e:  # noqa: BLE001
        raise UserError(f"{path}: not a readable SEG-Y file ({type(e).__name__}: {e})") from None
    return traces[None], np.zeros(1, np.int64), "traces"


@register("segy", takes_arg=True)
def segy(file: str, *, seed: int = 0, clip_percentile: float = 99.0) -> Raw:
    """A SEG-Y volume (segyio): inlines cut into non-overlapping 101x101 patches, no labels.

    Rows of a patch are samples (time / depth), columns are traces. Patches come
    in C order over (section, sample block, trace block); the extras
    ``section`` (inline number, 0 without geometry), ``sample0`` and ``trace0``
    locate each one. One scale for the whole volume: the ``clip_percentile``
    percentile of |amplitude| maps to 0 / 1. Non-finite samples are set to 0
    (their count is in ``meta["nonfinite_samples"]``).
    """
    del seed
    path = Path(file)
    if not path.is_file():
        raise UserError(f"segy:{file}: no such file")
    clip_percentile = _number(f"segy:{file}", "clip_percentile", clip_percentile, 50.0, 100.0)
    vol, numbers, geometry = _read_segy(path)                   # [S, traces, samples]
    n_sec, n_tr, n_smp = vol.shape
    if n_smp < SIZE:
        raise UserError(f"{path}: traces have {n_smp} samples; segy: needs at least {SIZE} "
                        f"to cut {SIZE}x{SIZE} patches")
    if n_tr < SIZE:
        raise UserError(f"{path}: each {'inline' if geometry == 'inline' else 'section'} has "
                        f"{n_tr} traces; segy: needs at least {SIZE} to cut {SIZE}x{SIZE} patches")
    bad = ~np.isfinite(vol)
    n_bad = int(bad.sum())
    if n_bad:
        vol[bad] = 0.0
    flat = np.abs(vol).ravel()
    step = max(1, flat.size // 5_000_000)                       # percentile on <= ~5M samples
    scale = float(np.percentile(flat[::step], clip_percentile))
    if not scale > 0:
        scale = float(flat.max()) or 1.0
    nr, nc = n_smp // SIZE, n_tr // SIZE
    # [S, traces, samples] -> [S, nc, 101 traces, nr, 101 samples] -> [S, nr, nc, samples, traces]
    cut = vol[:, :nc * SIZE, :nr * SIZE].reshape(n_sec, nc, SIZE, nr, SIZE).transpose(0, 3, 1, 4, 2)
    x = (0.5 + 0.5 * np.clip(cut.reshape(-1, SIZE, SIZE) / np.float32(scale), -1.0, 1.0))
    x = x.astype(np.float32)[..., None]                           # [N, 101, 101, 1]
    sec, row, col = np.meshgrid(np.arange(n_sec), np.arange(nr), np.arange(nc), indexing="ij")
    extras = {"section": numbers[sec.ravel()].astype(np.int32),
              "sample0": (row.ravel() * SIZE).astype(np.int32),
              "trace0": (col.ravel() * SIZE).astype(np.int32)}
    meta = {"kind": "image", "file": str(path), "geometry": geometry, "clip": scale,
            "clip_percentile": clip_percentile, "nonfinite_samples": n_bad,
            "volume_shape": [int(n_sec), int(n_tr), int(n_smp)]}
    return Raw(Split(x, np.full(len(x), -1, np.int32), extras), None, meta)
