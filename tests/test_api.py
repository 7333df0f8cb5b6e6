"""aejax.api: the whole pipeline (api.run) checked against a known answer: a purely linear
autoencoder learns PCA's subspace.

With a linear encoder and decoder and the MSE loss, every minimum of the
autoencoder's loss has the decoder's columns spanning the top-k principal
subspace of the centred training data (Baldi & Hornik, 1989); the code is
some invertible linear map of the PCA scores, so only subspaces compare, not
axes. (The encoder's rows are pinned down only on the data's support: its
weights on always-zero pixels never receive a gradient, so the test compares
what the encoder *does* -- the codes -- rather than its raw weights.)

- ``test_linear_ae_learns_pca_fast``: the registry's ``DenseAE`` with linear
  activations, trained full-batch (10,000 Adam steps in one ``lax.scan``) on
  scikit-learn's 8x8 digits, k = 5: decoder within 0.5 degrees of PCA.
- ``test_pipeline_linear_ae_matches_pca[4-...]``: the same model through the runner
  (data split, compiled epochs, checkpoints, the latent analysis) with
  minibatches, k = 4 (a wider eigen-gap, 1.5 vs 1.13 after the 5th
  eigenvalue, so it converges in 300 short epochs): decoder within 2
  degrees, saved test codes spanning the test split's PCA scores, test MSE
  equal to PCA's rank-k error.
- ``test_pipeline_linear_ae_matches_pca[5-...]`` (slow): the pipeline with k = 5.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from aejax import api
from aejax.analysis import spectrum as spec
from aejax.analysis import subspace


def _linear_overrides(k: int, epochs: int, batch: int, lr: float) -> list[str]:
    return ["data.name=digits", "model.hidden=[]", f"model.latent_dim={k}", "model.activation=linear",
            "model.latent_activation=linear", "model.output_activation=linear", "train.loss=mse",
            f"train.epochs={epochs}", f"train.batch_size={batch}", f"train.learning_rate={lr}",
            "train.progress=false"]


def _check_run(wd, k: int, max_deg: float):
    r = api.load_run(wd)
    fit = spec.pca_baseline(r.data.train.x, k=k)
    w_dec = np.asarray(r.params["dec_0"]["kernel"])  # [k, 64]
    ang = np.degrees(subspace.principal_angles(w_dec.T, fit["components"]))
    assert ang.max() < max_deg, ang
    # The saved test codes span the test split's top-k PCA scores (training PCA).
    z = np.load(wd / "analysis" / "latents.npy")  # [N_test, k]
    xt = r.data.test.x.reshape(len(r.data.test.x), -1)  # [N_test, 64]
    scores = (xt - fit["mean"]) @ fit["components"]  # [N_test, k]
    ang_codes = np.degrees(subspace.principal_angles(z - z.mean(0), scores - scores.mean(0)))
    assert ang_codes.max() < 2 * max_deg, ang_codes
    test_mse = json.loads((wd / "summary.json").read_text())["test/mse"]
    assert test_mse == pytest.approx(spec.pca_reconstruction_mse(r.data.train.x, r.data.test.x, k), rel=0.01)
    s = json.loads((wd / "analysis" / "spectrum.json").read_text())
    assert s["d"] == k and s["dead_units"] == 0 and s["eigenvalues_nonzero"] == k


def test_linear_ae_learns_pca_fast():
    import jax
    import jax.numpy as jnp
    import optax

    from aejax import data, models
    k = 5
    ds = data.load("digits", seed=0)
    x = jnp.asarray(ds.train.x)  # [1258, 8, 8, 1]
    model = models.build({"name": "dense", "hidden": [], "latent_dim": k, "activation": "linear",
                          "latent_activation": "linear", "output_activation": "linear"}, ds.example_shape)
    tx = optax.adam(0.01)

    def loss(p):
        return jnp.mean(jnp.square(model.apply({"params": p}, x) - x))

    @jax.jit
    def train(key):
        p = model.init(key, x[:1])["params"]

        def step(carry, _):
            p, s = carry
            l, g = jax.value_and_grad(loss)(p)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), l

        (p, _), losses = jax.lax.scan(step, (p, tx.init(p)), None, length=10_000)
        return p, losses[-1]

    params, final = train(jax.random.key(0))
    fit = spec.pca_baseline(ds.train.x, k=k)
    ang = np.degrees(subspace.principal_angles(np.asarray(params["dec_0"]["kernel"]).T, fit["components"]))
    assert ang.max() < 0.5, ang
    assert float(final) == pytest.approx(spec.pca_reconstruction_mse(ds.train.x, ds.train.x, k), rel=1e-3)


@pytest.mark.parametrize("k, epochs, batch, lr", [
    (4, 300, 64, 0.005),
    pytest.param(5, 1500, 128, 0.01, marks=pytest.mark.slow),
])
def test_pipeline_linear_ae_matches_pca(tmp_path, k, epochs, batch, lr):
    wd = tmp_path / "run"
    api.run("mnist_dense", workdir=wd, overrides=_linear_overrides(k, epochs, batch, lr))
    _check_run(wd, k, max_deg=2.0)
