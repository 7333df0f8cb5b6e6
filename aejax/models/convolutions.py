"""Convolution layers of the conv models, computed in the forms XLA:CPU runs fastest.

Pure functions of arrays (the pool, the upsample, a stride-1 'same' convolution and its fused or
rewritten forms, with their custom gradients) and the Flax modules that use them with ``nn.Conv``'s
parameters (names, shapes, initializers: a checkpoint of either loads in the other): :class:`Conv`,
:class:`PooledConv` (a convolution and its 2x2 max-pool) and :class:`UpConv` (a 2x upsample and a
convolution). Each form keeps the mathematics and changes the work XLA is given; on GPU/TPU, whose
convolutions are fast, the modules take the plain forms. Which form wins where was measured one by one
with ``benchmarks/conv_formulations.py`` and ``benchmarks/scan_convolutions.py``; the numbers are in
benchmarks/README.md.
"""
from __future__ import annotations

import contextlib
import threading

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

def max_pool_2x2(x):
    """2x2 max-pool, stride 2, 'same' padding. [B, H, W, C] -> [B, ceil(H/2), ceil(W/2), C].

    Written as the elementwise maximum of the four strided slices when H and W
    are even: on XLA:CPU its gradient (select masks) costs a fraction of that of
    ``reduce_window`` or of a reshape + max over two axes (benchmarks/conv_formulations.py).
    The gradient of tied maxima is shared among them (halved at each tied
    ``maximum``), and their sum is the incoming gradient as before.
    """
    b, h, w, c = x.shape
    if h % 2 or w % 2:
        return nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")
    return jnp.maximum(jnp.maximum(x[:, 0::2, 0::2], x[:, 0::2, 1::2]),
                       jnp.maximum(x[:, 1::2, 0::2], x[:, 1::2, 1::2]))  # [B, H/2, W/2, C]


def upsample_2x2(x):
    """Nearest-neighbour 2x upsampling (Keras ``UpSampling2D``). [B, H, W, C] -> [B, 2H, 2W, C]."""
    b, h, w, c = x.shape
    x = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))  # [B, H, 2, W, 2, C]
    return x.reshape(b, 2 * h, 2 * w, c)


def same_padding(k: int) -> tuple[int, int]:
    """'SAME' padding (before, after) of a stride-1 convolution with a k-wide kernel (as XLA's)."""
    return (k - 1) // 2, k - 1 - (k - 1) // 2


def conv_upsampled(z, kernel, bias, out_hw):
    """``conv_same(upsample_2x2(z)[:, :H, :W], kernel) + bias`` computed at z's resolution. z [B, h, w, C] -> [B, H, W, C_out].

    A nearest-neighbour upsample repeats each value over 2x2 pixels, so each kernel tap's product
    ``z @ kernel[i, j]`` can be taken once per low-resolution pixel: one matmul
    ``[B h w, C] @ [C, k k C_out]`` at a quarter of the pixels, then the output is the sum of the k x k
    taps, each the upsampled product shifted by its offset. The gradient stays at the low resolution
    too (no upsample of a wide activation, no transposes for the kernel's gradient). Worth it when
    ``k k C_out`` is small against the pixels saved (the output layer: C_out = 1): on XLA:CPU it
    saves the upsampled image's convolution and its transposes (benchmarks/conv_formulations.py).
    """
    b, h, w, c = z.shape
    k, cout = kernel.shape[0], kernel.shape[-1]
    big_h, big_w = out_hw
    taps = kernel.transpose(2, 0, 1, 3).reshape(c, k * k * cout)  # [C, k k C_out]
    y = (z.reshape(b * h * w, c) @ taps).reshape(b, h, w, k, k, cout)  # every tap's product, low res
    y = upsample_2x2(y.reshape(b, h, w, k * k * cout))[:, :big_h, :big_w].reshape(b, big_h, big_w, k, k, cout)
    lo, hi = same_padding(k)
    y = jnp.pad(y, ((0, 0), (lo, hi), (lo, hi), (0, 0), (0, 0), (0, 0)))
    out = sum(y[:, i:i + big_h, j:j + big_w, i, j, :] for i in range(k) for j in range(k))
    return out + bias


def _upsampled_band(w: int, k: int) -> np.ndarray:
    """[w, 2w, k] of 0/1: entry (v, s, j) is 1 where kernel column j at output column s reads low-resolution
    column v of a 2x upsampled row ('same' padding: the upsampled column s + j - lo is inside the row)."""
    lo, _ = same_padding(k)
    band = np.zeros((w, 2 * w, k), np.float32)
    for s in range(2 * w):
        for j in range(k):
            if 0 <= s + j - lo < 2 * w:
                band[(s + j - lo) // 2, s, j] = 1
    return band


def _upsampled_rows(k: int, p: int) -> tuple[np.ndarray, int]:
    """``(rows, top)``: rows [nd, k] of 0/1, entry (d, i) 1 where kernel row i at output row 2u + p of a 2x
    upsampled image reads the low row u + d - top ('same' padding: top low rows above u are read)."""
    lo, _ = same_padding(k)
    d = [(p + i - lo) // 2 for i in range(k)]  # non-decreasing; d[0] <= 0 <= d[-1]
    rows = np.zeros((d[-1] - d[0] + 1, k), np.float32)
    rows[np.array(d) - d[0], np.arange(k)] = 1
    return rows, -d[0]


def conv_upsampled_band(z, kernel, bias):
    """``conv_same(upsample_2x2(z), kernel) + bias`` as one matmul per output-row parity. z [B, h, w, C] ->
    [B, 2h, 2w, C_out].

    Output row 2u + p reads the upsampled rows around it, which repeat the low rows u + d for a few
    offsets d (two for k = 3); along the row, the upsample and the kernel's columns make one banded
    [w C, 2w C_out] matrix per offset, built from the kernel by constant 0/1 tensors. So each parity's
    rows are one product [B h, nd w C] @ [nd w C, 2w C_out] of contiguous low rows, forward and
    backward, with no upsampled input and no transposes. It does ``nd w / k^2`` times the convolution's
    multiply-adds (1.6 for the course's 7-wide decoder layer), at matmul speed; :func:`band_pays` says
    where that wins on CPU.
    """
    b, h, w, c = z.shape
    k, cout = kernel.shape[0], kernel.shape[-1]
    band = _upsampled_band(w, k)
    outs = []
    for p in (0, 1):
        rows, top = _upsampled_rows(k, p)
        nd = rows.shape[0]
        mat = jnp.einsum("di,vsj,ijco->dvcso", rows, band, kernel).reshape(nd * w * c, 2 * w * cout)
        zp = jnp.pad(z, ((0, 0), (top, nd - 1 - top), (0, 0), (0, 0))).reshape(b, h + nd - 1, w * c)
        lhs = jnp.concatenate([zp[:, d:d + h] for d in range(nd)], -1)  # [B, h, nd w C]
        outs.append(lhs @ mat)  # [B, h, 2w C_out]: the output rows 2u + p
    return jnp.stack(outs, 2).reshape(b, 2 * h, 2 * w, cout) + bias


def band_cost(k: int, w: int) -> float:
    """:func:`conv_upsampled_band`'s multiply-adds over the convolution's, for a k x k kernel on rows
    upsampled from w columns: ``nd w / k^2`` (nd: the low rows an output row reads)."""
    return max(_upsampled_rows(k, p)[0].shape[0] for p in (0, 1)) * w / k ** 2


def band_pays(k: int, w: int) -> bool:
    """Whether :func:`conv_upsampled_band` beats upsample + convolution: on CPU, where its multiply-adds
    stay within 2x the convolution's (:func:`band_cost`: up to 9 low-resolution columns for k = 3, 10
    for k = 4, 16 for k = 5). ``benchmarks/conv_formulations.py --layers`` times both sides of the
    bound: faster up to ~1.5x the multiply-adds, about even near 2x, slower beyond (the table in
    benchmarks/README.md)."""
    return jax.default_backend() == "cpu" and band_cost(k, w) <= 2


def _conv(x, kernel, padding="SAME"):
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


_LOOP = threading.local()


@contextlib.contextmanager
def loop_body_convolutions():
    """Trace the convolutions of :func:`conv_same` inside this block (the body of a training scan) with
    :func:`conv_same_loop`'s gradients on CPU.

    XLA:CPU rewrites a convolution's gradients into fast forms (the kernel's as a YNNPACK convolution
    over transposed operands) only at a program's top level; inside a ``while`` loop's body, which a
    ``lax.scan`` over the batches becomes, it runs them through its generic convolution, several times
    slower (the course conv model's scanned epoch at a third of the looped one's speed; the trace is in
    benchmarks/README.md). The engine traces every scanned epoch in this block
    (:func:`aejax.train.step.scan_steps`); a program of one step at the top level keeps XLA's own
    gradients (faster there, and bitwise as before). Trace-time only: nothing changes in a program
    once traced. The block chooses a formulation, never the mathematics (the same forward values,
    gradients equal to rounding), so a trace that JAX reuses across it (a function it has already
    traced with the same shapes) can only be slower, not wrong.
    """
    before = getattr(_LOOP, "active", False)
    _LOOP.active = True
    try:
        yield
    finally:
        _LOOP.active = before


def conv_same(x, kernel):
    """Stride-1 'SAME' convolution, NHWC x HWIO -> NHWC (nn.Conv's without the bias); with
    :func:`conv_same_loop`'s gradients inside :func:`loop_body_convolutions` on CPU."""
    if getattr(_LOOP, "active", False) and jax.default_backend() == "cpu":
        return conv_same_loop(x, kernel)
    return _conv(x, kernel)


#: Largest kernel-gradient tap matrix :func:`conv_same_loop` builds (bytes); beyond it, one product per tap.
TAPS_BYTES = 64 << 20


@jax.custom_vjp
def conv_same_loop(x, kernel):
    """:func:`conv_same` whose gradients are a convolution in XLA's canonical layout (the input's) and a
    matmul (the kernel's), the forms XLA:CPU runs fast inside a loop body (:func:`loop_body_convolutions`).

    The input's gradient is the output gradient correlated with the flipped kernel (input and output
    channels swapped; 'same' padding mirrored for even kernels). The kernel's is one product of the input
    [B H W, C_in] with the output gradient's k x k shifted copies [B H W, k k C_out] (a tap matrix of
    B H W k k C_out floats: 7 MB for the course's enc_1 at batch 128), or, past :data:`TAPS_BYTES`, the
    sum of one product per tap. Values equal XLA's gradients up to rounding (~1e-6 relative).
    """
    return _conv(x, kernel)


def _conv_same_loop_fwd(x, kernel):
    return _conv(x, kernel), (x, kernel)


def _conv_same_loop_bwd(res, g):
    x, kernel = res
    b, h, w, c_in = x.shape
    kh, kw, _, c_out = kernel.shape
    (lo_h, hi_h), (lo_w, hi_w) = same_padding(kh), same_padding(kw)
    dx = _conv(g, kernel[::-1, ::-1].swapaxes(2, 3), [(hi_h, lo_h), (hi_w, lo_w)])
    # kernel tap (i, j) pairs x[p, q] with g[p - i + lo_h, q - j + lo_w] = gp[p + kh - 1 - i, q + kw - 1 - j]
    gp = jnp.pad(g, ((0, 0), (hi_h, lo_h), (hi_w, lo_w), (0, 0)))
    taps = [gp[:, kh - 1 - i:kh - 1 - i + h, kw - 1 - j:kw - 1 - j + w] for i in range(kh) for j in range(kw)]
    xt = x.reshape(-1, c_in).T  # [C_in, B H W]
    if b * h * w * kh * kw * c_out * 4 <= TAPS_BYTES:
        dk = (xt @ jnp.stack(taps, -2).reshape(-1, kh * kw * c_out)).reshape(c_in, kh, kw, c_out)
        dk = dk.transpose(1, 2, 0, 3)
    else:
        dk = jnp.stack([xt @ t.reshape(-1, c_out) for t in taps]).reshape(kh, kw, c_in, c_out)
    return dx, dk


conv_same_loop.defvjp(_conv_same_loop_fwd, _conv_same_loop_bwd)


def conv_params(module: nn.Module, k: int, c_in: int, features: int, kernel_init):
    """``kernel`` [k, k, c_in, features] and ``bias`` [features] as nn.Conv makes them (names, order,
    initializers), so a module computing its convolution its own way keeps nn.Conv's checkpoints."""
    return (module.param("kernel", kernel_init, (k, k, c_in, features)),
            module.param("bias", nn.initializers.zeros_init(), (features,)))


class Conv(nn.Module):
    """``nn.Conv(features, (k, k), padding='SAME')`` (stride 1) through :func:`conv_same`: the same
    parameters (names, shapes, initializers) and values, with fast gradients in a training scan on CPU."""

    features: int
    kernel_size: int
    kernel_init: callable = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x):
        kernel, bias = conv_params(self, self.kernel_size, x.shape[-1], self.features, self.kernel_init)
        return conv_same(x, kernel) + bias


def pool_tap_rows(x, k: int):
    """The inputs of a stride-1 'same' k x k convolution grouped by 2x2 pool position, one row per output
    pixel. x [B, H, W, C] (H, W even) -> [4, B H/2 W/2, k k C]: entry (2 a + e, (b, u, v), (i k + j) C + c)
    is x[b, 2u + a + i - lo, 2v + e + j - lo, c] (zero outside the image), so ``rows @ kernel.reshape(-1,
    C_out)`` is the convolution at the pool position (a, e).

    Each tap is a unit-stride slice of one of the four phase planes x[:, r::2, s::2] of the padded
    image (no stride-2 reads per tap); the taps are the rows' last axis, which the forward product
    contracts as it lies (built tap-first, the rows cost XLA:CPU a concatenation and two transposed
    copies)."""
    b, h, w, c = x.shape
    lo, hi = same_padding(k)
    eh, ew = (h + k - 1) % 2, (w + k - 1) % 2  # one more zero row / column where the padded size is odd
    xp = jnp.pad(x, ((0, 0), (lo, hi + eh), (lo, hi + ew), (0, 0)))  # [B, Hp, Wp, C]
    planes = [[xp[:, r::2, s::2] for s in (0, 1)] for r in (0, 1)]  # [B, Hp/2, Wp/2, C]
    tap = lambda a, e, i, j: planes[(a + i) % 2][(e + j) % 2][:, (a + i) // 2:(a + i) // 2 + h // 2,
                                                              (e + j) // 2:(e + j) // 2 + w // 2]
    rows = [jnp.stack([tap(a, e, i, j) for i in range(k) for j in range(k)], -2)  # [B, H/2, W/2, k k, C]
            for a in (0, 1) for e in (0, 1)]
    return jnp.stack(rows).reshape(4, b * (h // 2) * (w // 2), k * k * c)


@jax.custom_vjp
def pooled_conv_rows(x, kernel):
    """``max_pool_2x2(conv_same(x, kernel))`` as one product of :func:`pool_tap_rows` with the kernel.
    [B, H, W, C] (H, W even) -> [B, H/2, W/2, C_out].

    XLA:CPU's convolution is slowest where each output reads few inputs (the first layer of a
    grayscale image model: 9 per output). As rows, the
    convolution is one matmul whose four pool positions are four contiguous blocks (the pool is an
    elementwise maximum of them), and the kernel's gradient is one matmul of the same rows with the
    pooled gradient. The values equal the convolution's up to rounding (~1e-7 relative); the gradient of
    tied maxima is shared equally among them, as :func:`max_pool_2x2`'s is for two or four tied values.
    Used where :func:`rows_pay` says it is faster.
    """
    return _pooled_conv_rows_fwd(x, kernel)[0]


def _pooled_conv_rows_fwd(x, kernel):
    b, h, w, _ = x.shape
    k, cout = kernel.shape[0], kernel.shape[-1]
    rows = pool_tap_rows(x, k)  # [4, n, F]
    y = rows @ kernel.reshape(-1, cout)  # [4, n, C_out]
    m = jnp.maximum(jnp.maximum(y[0], y[1]), jnp.maximum(y[2], y[3]))  # [n, C_out]
    return m.reshape(b, h // 2, w // 2, cout), (x, kernel, rows, y, m)


def _pooled_conv_rows_bwd(res, g):
    x, kernel, rows, y, m = res
    k, cout = kernel.shape[0], kernel.shape[-1]
    hit = y == m  # [4, n, C_out]: where each maximum came from
    gy = jnp.where(hit, g.reshape(-1, cout) / hit.sum(0), 0.0)
    dkernel = (rows.reshape(-1, rows.shape[-1]).T @ gy.reshape(-1, cout)).reshape(kernel.shape)
    _, rows_vjp = jax.vjp(lambda x: pool_tap_rows(x, k), x)  # XLA drops it when x needs no gradient (data)
    return rows_vjp(gy @ kernel.reshape(-1, cout).T)[0], dkernel


pooled_conv_rows.defvjp(_pooled_conv_rows_fwd, _pooled_conv_rows_bwd)


def materialized(x, param):
    """``x`` itself, computed once into its own buffer on CPU (the values are untouched).

    XLA fuses cheap elementwise producers into each consumer, so a consumer that reads ``x`` in another
    order recomputes ``x`` there: the next convolution's kernel gradient reads a pooled layer's output
    transposed, and recomputing the bias, pool and activation from the layer's product while transposing
    costs about twice reading the stored array (benchmarks/README.md). XLA does not fuse across a
    conditional, and JAX's ``optimization_barrier`` does not last until fusion, so on CPU ``x`` passes
    through a ``cond`` whose predicate the compiler cannot know: whether ``param`` (a parameter, the same
    on every device, so no device waits for another) starts with a NaN. Either branch returns ``x``
    exactly (``x * 1.0`` is ``x``, NaNs, infinities and signed zeros included; only a signalling NaN
    would come back quiet, and that branch runs only once the parameter is NaN); they differ only so
    that the conditional is not simplified away. GPUs and TPUs get ``x`` as it is (a conditional there
    may wait for the host).
    """
    if jax.default_backend() != "cpu":
        return x
    return jax.lax.cond(jnp.isnan(param.reshape(-1)[0]), lambda a: a * 1.0, lambda a: a, x)


def rows_pay(k: int, c_in: int, hw: tuple[int, int]) -> bool:
    """Whether :func:`pooled_conv_rows` beats convolution + pool here: on CPU, for an even image and rows
    of at most 54 taps (k k C_in: a grayscale or RGB first layer, a layer of a few channels).
    ``benchmarks/conv_formulations.py --layers`` times both sides of the bound (k = 3-5, 1-16 input
    channels): the rows win up to 54 taps; beyond, it depends on the shape, so the convolution stays
    (the table in benchmarks/README.md)."""
    return jax.default_backend() == "cpu" and k * k * c_in <= 54 and not (hw[0] % 2 or hw[1] % 2)


class PooledConv(nn.Module):
    """``max_pool_2x2(nn.Conv(features, (k, k), padding='SAME')(x))`` with nn.Conv's parameters, the bias
    added after the pool: ``max(y + b) == max(y) + b`` (exactly: rounding is monotone), so the full
    resolution output is never touched again (XLA:CPU: one pass over it fewer, forward and backward).
    On CPU a layer with few inputs per output (the first layer of a grayscale or RGB model) goes through
    :func:`pooled_conv_rows` (:func:`rows_pay`); ``impl`` forces one way."""

    features: int
    kernel_size: int
    kernel_init: callable = nn.initializers.lecun_normal()
    impl: str = "auto"  # 'rows' (pooled_conv_rows), 'conv' (convolution, then pool), 'auto': rows where rows_pay

    @nn.compact
    def __call__(self, x):
        kernel, bias = conv_params(self, self.kernel_size, x.shape[-1], self.features, self.kernel_init)
        impl = self.impl
        if impl == "auto":
            impl = "rows" if rows_pay(self.kernel_size, x.shape[-1], x.shape[1:3]) else "conv"
        # Stored once either way: the next layer's kernel gradient reads it transposed.
        if impl == "rows":
            return materialized(pooled_conv_rows(x, kernel) + bias, bias)
        return materialized(max_pool_2x2(conv_same(x, kernel)) + bias, bias)


class UpConv(nn.Module):
    """``nn.Conv(features, (k, k), padding='SAME')`` applied to ``upsample_2x2(z)`` cropped to ``out_hw``
    (twice z's height and width when None), with nn.Conv's parameters (names, shapes, initializers: a
    checkpoint of either loads in the other).

    On CPU it runs as :func:`conv_upsampled` when the taps' products are no wider than the upsampled
    input (k k features <= 4 C: an output layer), else as :func:`conv_upsampled_band` where
    :func:`band_pays` (a narrow decoder layer, uncropped); otherwise, and on GPU/TPU (whose
    convolutions are fast), as the plain upsample + convolution. ``impl`` forces one ('shift' / 'band'
    / 'conv'; 'band' needs an uncropped output).
    """

    features: int
    kernel_size: int
    out_hw: tuple[int, int] | None = None
    kernel_init: callable = nn.initializers.lecun_normal()
    impl: str = "auto"

    @nn.compact
    def __call__(self, z):
        k, c, (h, w) = self.kernel_size, z.shape[-1], z.shape[1:3]
        out_hw = tuple(self.out_hw) if self.out_hw is not None else (2 * h, 2 * w)
        kernel, bias = conv_params(self, k, c, self.features, self.kernel_init)
        impl = self.impl
        if impl == "auto":
            impl = "conv"
            if jax.default_backend() == "cpu" and k * k * self.features <= 4 * c:
                impl = "shift"
            elif out_hw == (2 * h, 2 * w) and band_pays(k, w):
                impl = "band"
        if impl == "shift":
            return conv_upsampled(z, kernel, bias, out_hw)
        if impl == "band":
            if out_hw != (2 * h, 2 * w):
                raise ValueError(f"UpConv impl='band' needs an uncropped output {(2 * h, 2 * w)}, got {out_hw}")
            return conv_upsampled_band(z, kernel, bias)
        return conv_same(upsample_2x2(z)[:, :out_hw[0], :out_hw[1]], kernel) + bias
