"""aejax.projects.qa.rbf and `aejax run rbf_network`: the Q&A's RBF example against an independent
numpy float64 pseudo-inverse of the same setup, the Flax RBF network, gradient descent, bad input."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax.errors import UserError
from aejax.projects.qa import rbf
from aejax.run import experiment as experiment_lib
from aejax.run.resolve import resolve_config


def _qa_reference_test_mse() -> float:
    """The Q&A's own code (numpy, float64): meshgrid, Gaussian rbf, pinv, 300 test points."""
    def fit_me(x):
        return (x - 2) * (2 * x + 1) / (1 + x ** 2)

    def gauss(x, mu, sigma=1.5):
        return np.exp(-(x - mu) ** 2 / (2 * sigma ** 2))
    x_train = np.linspace(-5, 10, 100)
    x_test = np.linspace(-5, 10, 300)
    centers = np.linspace(-5, 10, 20)
    center_cols, x_rows = np.meshgrid(centers, x_train)
    weights = np.dot(np.linalg.pinv(gauss(center_cols, x_rows)), fit_me(x_train))
    center_cols, x_rows = np.meshgrid(centers, x_test)
    return float(np.mean((np.dot(gauss(center_cols, x_rows), weights) - fit_me(x_test)) ** 2))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    from helpers import run_cli
    d = tmp_path_factory.mktemp("rbf")
    out = run_cli("run", "rbf_network", "--quick", "--workdir", d)
    assert out.returncode == 0, out.stderr[-3000:]
    return d


def test_defaults_are_the_qa_example():
    cfg = experiment_lib.load("rbf_network").get_config()
    assert cfg["model"] == {"name": "rbf", "centres": 20, "sigma": 1.5}
    r = cfg["rbf"]
    assert (r["x_min"], r["x_max"], r["n_train"], r["n_test"]) == (-5.0, 10.0, 100, 300)


def test_run_reproduces_the_qa_within_20_percent_of_float64_pinv(quick_run):
    ref = _qa_reference_test_mse()
    s = json.loads((quick_run / "summary.json").read_text())
    assert abs(s["test/mse"] - ref) <= 0.2 * ref, (s["test/mse"], ref)
    # --quick changes only the gradient steps and the point cloud: the Q&A's part is the default's
    cfg = json.loads((quick_run / "config.json").read_text())
    assert cfg["model"]["centres"] == 20 and cfg["rbf"]["n_train"] == 100 and cfg["rbf"]["n_test"] == 300


def test_quick_run_writes_the_run_directory(quick_run, cli):
    for rel in ["config.json", "summary.json", "metrics.jsonl", "report.html", ".aejax-complete",
                "analysis/answer.md", "analysis/rbf_1d.npz", "analysis/rbf_surface.npz"]:
        assert (quick_run / rel).exists(), rel
    for name in ("basis", "prediction", "error", "gd", "surface"):
        assert (quick_run / "figures" / f"rbf_{name}.png").exists(), name
    s = json.loads((quick_run / "summary.json").read_text())
    for key in ("test/mse_gd", "test/mse_gd_weights_only", "test/mse_pinv_float32", "test/mse_pinv_jax_default",
                "surface/test_mse_lstsq", "surface/test_mse_gd"):
        assert np.isfinite(s[key]), key
    assert s["surface/test_mse_lstsq"] < 0.01 and s["surface/test_mse_gd"] < 0.01  # Franke's values span ~1.2
    rows = [json.loads(line) for line in (quick_run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == s["epochs_run"] and rows[-1]["train/loss"] < rows[0]["train/loss"]
    assert "rbf_surface.png" in (quick_run / "report.html").read_text()
    again = cli("run", "rbf_network", "--quick", "--workdir", quick_run)
    assert again.returncode == 0 and "already finished" in again.stderr


def test_flax_network_features_equal_the_numpy_design():
    x = np.linspace(-5, 10, 37)
    net = rbf.RBFNet(centres=20, sigma=1.5, low=(-5.0,), high=(10.0,))
    p = net.init(jax.random.key(0), jnp.asarray(x, jnp.float32))["params"]
    g = net.apply({"params": p}, jnp.asarray(x, jnp.float32), method="features")
    np.testing.assert_allclose(g, rbf.design(x, np.linspace(-5, 10, 20), 1.5), atol=1e-6)
    assert rbf.grid_centres((0, 0), (1, 1), 3).shape == (9, 2)


def test_gradient_descent_moves_only_what_is_learnable():
    x = np.linspace(-5, 10, 100)
    net = rbf.RBFNet(centres=8, sigma=1.5, low=(-5.0,), high=(10.0,))
    import optax
    p0, p, losses, test = rbf.train_gd(net, x, rbf.fit_me(x), x, rbf.fit_me(x), optax.adam(0.05), 100,
                                       learn_centres=False, learn_widths=True)
    np.testing.assert_array_equal(p["centres"], p0["centres"])
    assert not np.allclose(p["log_sigma"], p0["log_sigma"])
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("setting, key", [("data.name=mnist5k", "data.name"), ("model.centres=0", "model.centres"),
                                          ("train.batch_size=10", "train.batch_size")])
def test_bad_settings_are_user_errors_naming_the_key(setting, key):
    with pytest.raises(UserError, match=key):
        resolve_config(experiment_lib.load("rbf_network"), [setting])
