"""Variational autoencoders (Kingma & Welling 2014) and beta-VAE (Higgins et al. 2017).

``VAE`` (dense) and ``ConvVAE`` share one objective (:class:`VAEObjective`):

- Gaussian encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))), prior p(z) = N(0, I);
- reparameterisation z = mu + exp(logvar / 2) * eps with eps drawn from the
  explicit ``key`` the engine passes to ``loss_terms`` (``fold_in(step_key, step)``);
- decoder p(x|z): ``likelihood="bernoulli"`` (logits; targets in [0, 1], exact
  for binarised data) or ``likelihood="gaussian"`` (mean = sigmoid output, a fixed
  standard deviation ``obs_std`` or, with ``learn_obs_std``, one learned scalar);
- loss = -log p(x|z) + beta_t * KL(q(z|x) || p(z)), with beta_t = beta, or
  ``beta * min(1, step / kl_warmup_steps)`` during training when
  ``kl_warmup_steps > 0`` (linear KL annealing; evaluation always uses beta).

**Reduction** (the most reported bug in VAE libraries): every term is a
**sum over pixels** (and over latent units for the KL) of one example, in
**nats**; ``loss_terms`` returns these per example, shape [B], and the engine
takes the **mean over examples**. ``neg_elbo`` is always the true -ELBO
(beta = 1), so it is comparable across beta-VAEs and with published numbers.

``encode`` returns the posterior **mean** (deterministic; used for analysis and
for ``__call__``); ``encode_dist`` returns (mean, log-variance). The
importance-sampled NLL estimate (IWAE bound, Burda et al. 2016) is
:func:`importance_nll`; active units are
:func:`aejax.analysis.importance.active_units` applied to ``encode``'s output.
"""
from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aejax.models.common import activation, register
from aejax.models.convolutions import UpConv
from aejax.models import losses

LOG_2PI = math.log(2.0 * math.pi)
LIKELIHOODS = ("bernoulli", "gaussian")


def gaussian_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over latent units, in nats. [B, D] -> [B]."""
    return 0.5 * jnp.sum(jnp.exp(logvar) + jnp.square(mu) - 1.0 - logvar, axis=-1)


def bernoulli_log_lik(logits, x):
    """log Bernoulli(x; sigmoid(logits)) summed over every non-batch axis, in nats.

    Written with logits (``x * l - softplus(l)``), exact and stable for any
    logit; ``x`` may be any value in [0, 1] (the usual cross-entropy for grey
    pixels). [B, ...] -> [B].
    """
    ll = x * logits - jax.nn.softplus(logits)
    return ll.reshape(ll.shape[0], -1).sum(axis=1)


def gaussian_log_lik(mean, log_std, x):
    """log N(x; mean, exp(log_std)^2) summed over every non-batch axis, in nats. [B, ...] -> [B]."""
    ll = -0.5 * jnp.square((x - mean) * jnp.exp(-log_std)) - log_std - 0.5 * LOG_2PI
    ll = jnp.broadcast_to(ll, x.shape)
    return ll.reshape(ll.shape[0], -1).sum(axis=1)


def log_normal(z, mu, logvar):
    """log N(z; mu, diag(exp(logvar))) summed over the last axis. [..., D] -> [...]."""
    return -0.5 * jnp.sum(jnp.square(z - mu) * jnp.exp(-logvar) + logvar + LOG_2PI, axis=-1)


class VAEObjective:
    """The objective shared by the VAEs; the host class provides ``encode_dist``,
    ``decode_raw`` (logits / pre-sigmoid mean), ``latent_dim``, ``likelihood``,
    ``obs_std``, ``learn_obs_std``, ``beta`` and ``kl_warmup_steps``."""

    def _setup_likelihood(self):
        """Called from ``setup``: the learned log-std parameter of a Gaussian decoder."""
        if self.likelihood == "gaussian" and self.learn_obs_std:
            init = math.log(self.obs_std)
            self.obs_log_std = self.param("obs_log_std", lambda _: jnp.full((), init, jnp.float32))

    def _log_std(self):
        """The Gaussian decoder's log standard deviation (a scalar)."""
        init = math.log(self.obs_std)
        if self.learn_obs_std:
            # Floor at obs_std / 100: a free variance can collapse on [0, 1] data.
            return jnp.maximum(self.obs_log_std, init - math.log(100.0))
        return jnp.full((), init, jnp.float32)

    def _check(self):
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"model.likelihood={self.likelihood!r}: expected one of {list(LIKELIHOODS)}")
        if self.beta < 0 or self.kl_warmup_steps < 0:
            raise ValueError(f"model.beta={self.beta}, model.kl_warmup_steps={self.kl_warmup_steps}: "
                             "expected values >= 0")
        if self.likelihood == "gaussian" and not self.obs_std > 0:
            raise ValueError(f"model.obs_std={self.obs_std}: expected a number > 0")

    def log_lik(self, raw, x):
        """log p(x | z) per example, summed over pixels (nats); ``raw`` from ``decode_raw``. -> [B]."""
        if self.likelihood == "bernoulli":
            return bernoulli_log_lik(raw, x)
        return gaussian_log_lik(nn.sigmoid(raw), self._log_std(), x)

    def encode(self, x, *, train: bool = False):
        """The posterior mean E[z | x]: [B, *out_shape] -> [B, latent_dim]."""
        return self.encode_dist(x, train=train)[0]

    def decode(self, z, *, train: bool = False):
        """Decoder mean (Bernoulli probabilities or Gaussian mean): [B, latent_dim] -> [B, *out_shape]."""
        return nn.sigmoid(self.decode_raw(z, train=train))

    def __call__(self, x, *, train: bool = False):
        """Deterministic reconstruction: the decoder mean at the posterior mean."""
        return self.decode(self.encode(x, train=train), train=train)

    def kl_weight(self, step=None):
        """beta_t: ``beta`` at evaluation (``step`` None), annealed linearly in training."""
        if step is None or self.kl_warmup_steps <= 0:
            return jnp.asarray(self.beta, jnp.float32)
        return self.beta * jnp.minimum(1.0, jnp.asarray(step, jnp.float32) / self.kl_warmup_steps)

    def loss_terms(self, x_in, target, *, key, loss: str = "mse", step=None):
        """Per-example beta-VAE loss and metrics, each [B], in nats.

        Reduction: ``rec_nll`` = -log p(target | z) **summed over pixels**,
        ``kl`` = KL(q(z | x_in) || N(0, I)) **summed over latent units**, for one
        posterior sample z per example drawn with ``key``. ``loss`` = rec_nll +
        beta_t * kl and ``neg_elbo`` = rec_nll + kl are per example; the engine
        takes their **mean over examples**, so ``train/neg_elbo`` is -ELBO in
        nats per example. ``mse`` / ``psnr`` (mean over pixels) compare the
        decoder mean at that sample with the target. The ``loss`` argument
        (``train.loss``) is ignored: ``likelihood`` defines the reconstruction term.
        """
        del loss
        mu, logvar = self.encode_dist(x_in, train=True)                       # [B, D] each
        eps = jax.random.normal(key, mu.shape, mu.dtype)
        z = mu + jnp.exp(0.5 * logvar) * eps                                   # [B, D]
        raw = self.decode_raw(z, train=True)                                   # [B, *out_shape]
        rec_nll = -self.log_lik(raw, target)                                   # [B]
        kl = gaussian_kl(mu, logvar)                                           # [B]
        beta_t = self.kl_weight(step)
        per_example = rec_nll + beta_t * kl
        recon = nn.sigmoid(raw)
        metrics = {"loss": per_example, "neg_elbo": rec_nll + kl, "rec_nll": rec_nll, "kl": kl,
                   "kl_weight": jnp.broadcast_to(beta_t, kl.shape),
                   "mse": losses.mse(recon, target), "psnr": losses.psnr(recon, target)}
        return per_example, metrics

    def log_weights(self, x_in, target, key, k: int):
        """Importance log-weights log p(target, z) - log q(z | x_in) for k samples z ~ q. -> [k, B].

        ``logmeanexp`` over the k axis is the IWAE bound (Burda et al. 2016);
        the plain mean over k is a k-sample estimate of the ELBO.
        """
        mu, logvar = self.encode_dist(x_in)                                     # [B, D]
        eps = jax.random.normal(key, (k, *mu.shape), mu.dtype)                 # [k, B, D]
        z = mu + jnp.exp(0.5 * logvar) * eps                                   # [k, B, D]
        raw = self.decode_raw(z.reshape(-1, mu.shape[-1]))                     # [k * B, *out_shape]
        tgt = jnp.broadcast_to(target, (k, *target.shape)).reshape(raw.shape)  # [k * B, *out_shape]
        log_px = self.log_lik(raw, tgt).reshape(k, -1)                         # [k, B]
        log_pz = log_normal(z, 0.0, jnp.zeros_like(z))                         # [k, B]
        log_qz = log_normal(z, mu, logvar)                                     # [k, B]
        return log_px + log_pz - log_qz

    def sample(self, key, n: int):
        """``n`` decoder means at z ~ N(0, I): -> [n, *out_shape]."""
        z = jax.random.normal(key, (n, self.latent_dim), jnp.float32)
        return self.decode(z)


@register("vae")
class VAE(VAEObjective, nn.Module):
    """Dense VAE: x -> hidden... -> (mu, logvar) [latent_dim]; z -> reversed(hidden) -> x.

    The defaults are Flax's VAE example (784-500-20, decoder 20-500-784,
    Bernoulli likelihood); pythae's benchmark VAE is ``hidden=(400,), latent_dim=40``.
    """

    out_shape: Sequence[int]
    latent_dim: int = 20
    hidden: Sequence[int] = (500,)
    decoder_hidden: Sequence[int] | None = None  # default: reversed(hidden)
    activation: str = "relu"
    likelihood: str = "bernoulli"
    obs_std: float = 0.1            # Gaussian likelihood: fixed std (initial value if learned)
    learn_obs_std: bool = False
    beta: float = 1.0
    kl_warmup_steps: int = 0

    def __post_init__(self):
        self._check()
        super().__post_init__()

    def setup(self):
        dec = tuple(reversed(self.hidden)) if self.decoder_hidden is None else tuple(self.decoder_hidden)
        self.enc_layers = [nn.Dense(f, name=f"enc_{i}") for i, f in enumerate(self.hidden)]
        self.mean_layer = nn.Dense(self.latent_dim, name="mean")
        self.logvar_layer = nn.Dense(self.latent_dim, name="logvar")
        self.dec_layers = [nn.Dense(f, name=f"dec_{i}")
                           for i, f in enumerate((*dec, int(np.prod(self.out_shape))))]
        self._setup_likelihood()

    def encode_dist(self, x, *, train: bool = False):
        """[B, *out_shape] -> (mean [B, latent_dim], log-variance [B, latent_dim])."""
        del train
        act = activation(self.activation)
        h = x.reshape(x.shape[0], -1)  # [B, P]
        for layer in self.enc_layers:
            h = act(layer(h))
        return self.mean_layer(h), self.logvar_layer(h)

    def decode_raw(self, z, *, train: bool = False):
        """[B, latent_dim] -> logits (Bernoulli) / pre-sigmoid mean (Gaussian) [B, *out_shape]."""
        del train
        act = activation(self.activation)
        h = z
        for layer in self.dec_layers[:-1]:
            h = act(layer(h))
        return self.dec_layers[-1](h).reshape(z.shape[0], *self.out_shape)  # [B, *out_shape]


@register("conv_vae")
class ConvVAE(VAEObjective, nn.Module):
    """Convolutional VAE: (Conv stride 2)* -> Dense -> (mu, logvar); Dense -> (UpSample 2 -> Conv)* -> Conv.

    Defaults on 28x28x1: Conv 32 -> 14x14, Conv 64 -> 7x7 (3x3, stride 2),
    Dense 256 -> latent 16; the decoder mirrors it with nearest-neighbour
    upsampling + 'same' convolutions (``ConvTranspose`` is very slow on XLA CPU).
    """

    out_shape: Sequence[int]
    latent_dim: int = 16
    channels: Sequence[int] = (32, 64)
    kernel: int = 3
    hidden: int = 256
    activation: str = "relu"
    likelihood: str = "bernoulli"
    obs_std: float = 0.1
    learn_obs_std: bool = False
    beta: float = 1.0
    kl_warmup_steps: int = 0

    def __post_init__(self):
        self._check()
        super().__post_init__()

    def _grid(self):
        h, w = self.out_shape[0], self.out_shape[1]
        for _ in self.channels:
            h, w = -(-h // 2), -(-w // 2)
        return h, w

    def setup(self):
        k = (self.kernel, self.kernel)
        self.enc_convs = [nn.Conv(c, k, strides=(2, 2), padding="SAME", name=f"enc_{i}")
                          for i, c in enumerate(self.channels)]
        self.enc_dense = nn.Dense(self.hidden, name="enc_dense")
        self.mean_layer = nn.Dense(self.latent_dim, name="mean")
        self.logvar_layer = nn.Dense(self.latent_dim, name="logvar")
        gh, gw = self._grid()
        self.dec_dense = nn.Dense(self.hidden, name="dec_dense")
        self.dec_grid = nn.Dense(gh * gw * self.channels[-1], name="dec_grid")
        dec_ch = list(reversed(self.channels))[1:] + [self.channels[0]]
        # Each decoder convolution reads an upsampled image: UpConv upsamples and convolves (nn.Conv's parameters).
        self.dec_convs = [UpConv(c, self.kernel, None, name=f"dec_{i}") for i, c in enumerate(dec_ch)]
        self.out_conv = nn.Conv(self.out_shape[-1], k, padding="SAME", name="out")
        self._setup_likelihood()

    def encode_dist(self, x, *, train: bool = False):
        """[B, H, W, C] -> (mean [B, latent_dim], log-variance [B, latent_dim])."""
        del train
        act = activation(self.activation)
        for conv in self.enc_convs:
            x = act(conv(x))
        h = act(self.enc_dense(x.reshape(x.shape[0], -1)))  # [B, h*w*C] -> [B, hidden]
        return self.mean_layer(h), self.logvar_layer(h)

    def decode_raw(self, z, *, train: bool = False):
        """[B, latent_dim] -> logits / pre-sigmoid mean [B, H, W, C] (cropped if sizes were odd)."""
        del train
        act = activation(self.activation)
        gh, gw = self._grid()
        h = act(self.dec_grid(act(self.dec_dense(z))))
        h = h.reshape(z.shape[0], gh, gw, self.channels[-1])  # [B, gh, gw, C_last]
        for conv in self.dec_convs:
            h = act(conv(h))  # [B, 2h, 2w, C]
        h = h[:, :self.out_shape[0], :self.out_shape[1], :]  # odd sizes: crop back
        return self.out_conv(h)


def importance_nll(model, params, x, key, *, k: int = 1000, target=None, batch_size: int = 100,
                   k_chunk: int = 250) -> dict:
    """Importance-sampled estimate of -log p(x) with ``k`` samples (IWAE bound), per example.

    -log p(x) ~ -logmeanexp_i [log p(x, z_i) - log q(z_i | x)], z_i ~ q(z | x);
    it is an upper bound on the true NLL that tightens as k grows, and never
    above the k-sample -ELBO estimate computed from the same samples (Jensen).
    ``x`` [N, ...] (numpy or jax), ``target`` defaults to ``x``. Examples run in
    batches of ``batch_size``, samples in chunks of ``k_chunk`` (memory:
    k_chunk * batch_size decoder outputs). Returns numpy ``{"nll": [N],
    "neg_elbo": [N]}`` in nats per example (sums over pixels).
    """
    x = jnp.asarray(x)
    target = x if target is None else jnp.asarray(target)
    k_chunk = min(k_chunk, k)
    while k % k_chunk:  # exactly k samples: chunks of a divisor of k
        k_chunk -= 1
    n_chunks = k // k_chunk

    @jax.jit
    def chunk_stats(params, xb, tb, kb):
        lw = model.apply({"params": params}, xb, tb, kb, k_chunk, method="log_weights")  # [kc, B]
        return jax.nn.logsumexp(lw, axis=0), lw.sum(axis=0)                              # [B], [B]

    nll, neg_elbo = [], []
    n = x.shape[0]
    for start in range(0, n, batch_size):
        xb, tb = x[start:start + batch_size], target[start:start + batch_size]
        m = xb.shape[0]
        if m < batch_size:  # pad the last batch to the compiled shape
            pad = [(0, batch_size - m)] + [(0, 0)] * (xb.ndim - 1)
            xb, tb = jnp.pad(xb, pad), jnp.pad(tb, pad)
        lse, total = [], 0.0
        for c in range(n_chunks):
            a, b = chunk_stats(params, xb, tb, jax.random.fold_in(jax.random.fold_in(key, start), c))
            lse.append(a)
            total = total + b
        log_px = jax.nn.logsumexp(jnp.stack(lse), axis=0) - math.log(n_chunks * k_chunk)  # [B]
        nll.append(np.asarray(-log_px[:m]))
        neg_elbo.append(np.asarray(-total[:m] / (n_chunks * k_chunk)))
    return {"nll": np.concatenate(nll).astype(np.float64),
            "neg_elbo": np.concatenate(neg_elbo).astype(np.float64)}
