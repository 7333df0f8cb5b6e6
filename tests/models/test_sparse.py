"""aejax.models.sparse: the KL sparsity penalty and the L1 / KL penalties in the loss terms."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax import models
from aejax.models.sparse import kl_sparsity
from helpers import init_params, uniform


def test_kl_sparsity_penalty_matches_the_formula():
    rho, rho_hat = 0.05, np.array([0.05, 0.2, 0.5, 0.01])
    expected = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    np.testing.assert_allclose(kl_sparsity(rho, jnp.asarray(rho_hat)), expected, rtol=1e-6)
    assert float(kl_sparsity(rho, jnp.full(3, rho))) == pytest.approx(0.0, abs=1e-7)


def test_sparse_penalties_in_loss_terms():
    x = uniform((6, 12))
    for cfg in ({"name": "sparse", "latent_dim": 5, "l1": 0.01},
                {"name": "sparse", "latent_dim": 5, "l1": 0.0, "kl": 0.3, "rho": 0.1,
                 "latent_activation": "sigmoid"}):
        model = models.build(cfg, (12,))
        params = init_params(model, x)
        z, recon, (loss, m) = jax.jit(lambda p: (
            model.apply(p, x, method="encode"), model.apply(p, x),
            model.apply(p, x, x, key=jax.random.key(2), loss="mse", method="loss_terms")))(params)
        z, recon = np.asarray(z), np.asarray(recon)
        rec = np.square(recon - np.asarray(x)).mean(1)
        penalty = cfg["l1"] * np.abs(z).sum(1) + cfg.get("kl", 0) * float(kl_sparsity(cfg.get("rho", 0.05),
                                                                                         z.mean(0)))
        np.testing.assert_allclose(m["rec"], rec, rtol=1e-5)
        np.testing.assert_allclose(loss, rec + penalty, rtol=1e-5)
        np.testing.assert_allclose(m["code_mean"], z.mean(1), rtol=1e-5)
