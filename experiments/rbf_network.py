"""RBF networks: the Q&A's 1-D example (pseudo-inverse), gradient descent in JAX, a point-cloud surface.

    aejax run rbf_network            # ~12 s: the Q&A's example, the JAX fits, the surface
    aejax run rbf_network --set model.sigma=1.0 --set model.centres=30

The question (``shared/seeds/002_*``, "Feature Vectors in Radial Basis Function Network"):

    "I am trying to use RBFNN for point cloud to surface reconstruction but I couldn't
    understand what would be my feature vectors in RBFNN."

and the answer's example, reproduced exactly by default: f(x) = (x-2)(2x+1)/(1+x^2), 100
training points evenly spaced on [-5, 10], 20 Gaussian centres evenly spaced on the same
interval, sigma = 1.5, output weights ``pinv(G) @ y_train`` (numpy, float64, as the answer
runs it), 300 evenly spaced test points; the answer's three figures ``rbf_basis.png`` (the
columns of G), ``rbf_prediction.png`` and ``rbf_error.png``, and ``test/mse`` in summary.json.

Then the same network (model ``rbf``) trained by full-batch gradient descent in JAX with optax
(``train.optimizer``, ``train.learning_rate``, ``train.epochs`` steps), centres and widths
learnable (``rbf.learn_centres``, ``rbf.learn_widths``): ``test/mse_gd``, against the same
steps on the output weights alone (``test/mse_gd_weights_only``); figure ``rbf_gd.png``.

And the question itself: a scattered synthetic 3-D point cloud (Franke's surface plus noise,
``rbf.surface``) fitted by a 2-D RBF surface z = f(x, y) -- each point is one example, (x, y)
its feature vector, z its target -- by least squares and by gradient descent, shown as a
surface in ``rbf_surface.png``; ``surface/test_mse_*`` against the noise-free surface.

``analysis/answer.md`` (shown in report.html) states what the numbers say. Code:
:mod:`aejax.projects.qa.rbf`. Measured: the pseudo-inverse's test MSE is 1.68e-3 (float64);
G's condition number is ~2e6, and ``jax.numpy.linalg.pinv``'s default float32 cut-off, which
drops G's smallest singular values, gives 8.0e-3.
"""
from __future__ import annotations

from aejax.config import base_config
from aejax.projects.qa import rbf


def get_config() -> dict:
    """The Q&A's setup; 5000 full-batch Adam steps for the gradient-descent fits."""
    cfg = base_config()
    cfg["data"]["name"] = "fit_me"          # generated here: the Q&A's function and a point cloud
    cfg["model"] = {"name": "rbf", "centres": 20, "sigma": 1.5}
    cfg["train"].update(epochs=5000, batch_size=100, learning_rate=0.01, optimizer="adam", progress=False)
    cfg["analysis"]["enabled"] = False      # no autoencoder code to analyse
    cfg["rbf"] = {"x_min": -5.0, "x_max": 10.0, "n_train": 100, "n_test": 300,
                  "learn_centres": True, "learn_widths": True,
                  "surface": {"points": 500, "noise": 0.02, "centres": 10, "sigma": 0.12, "test_grid": 41}}
    return cfg


def quick(cfg: dict) -> dict:
    """Smoke run: the Q&A's example as it is, 300 gradient steps, a 150-point cloud."""
    cfg["quick"] = True
    cfg["train"]["epochs"] = 300
    cfg["rbf"]["surface"].update(points=150, centres=6, sigma=0.2, test_grid=21)
    return cfg


resolve = rbf.resolve   # checks rbf.* and model.* (exit 2 naming the key)
run = rbf.run           # the three parts, figures, analysis/answer.md, report.html
