"""aejax.projects.qa.matmul: a dense layer over a batch is one matmul (outputs and weight gradient),
and full-batch gradient descent is a different optimisation from mini-batch descent."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax.projects.qa import matmul


def test_per_example_loop_equals_one_matmul():
    rng = np.random.default_rng(0)
    x, w, b = (jnp.asarray(rng.normal(size=s), jnp.float32) for s in ((100, 10), (10, 2), (2,)))
    np.testing.assert_allclose(matmul.dense_loop(x, w, b), matmul.dense_batched(x, w, b), atol=1e-5)
    np.testing.assert_allclose(jax.vmap(matmul.dense_one, in_axes=(0, None, None))(x, w, b),
                               matmul.dense_batched(x, w, b), atol=1e-5)


def test_weight_gradient_is_input_transpose_times_output_error():
    rng = np.random.default_rng(1)
    x, w, err = (jnp.asarray(rng.normal(size=s), jnp.float32) for s in ((50, 10), (10, 2), (50, 2)))
    np.testing.assert_allclose(matmul.weight_grad_loop(x, err), matmul.weight_grad_batched(x, err), atol=1e-4)
    # jax.grad of sum(err * (x @ w)) with respect to w is the same X.T @ E
    np.testing.assert_allclose(jax.grad(lambda v: jnp.sum(err * (x @ v)))(w), x.T @ err, atol=1e-4)


def test_full_batch_is_one_update_per_epoch_and_differs_from_mini_batches():
    x, y, w0 = matmul.toy_problem()
    ws, losses = matmul.gd_epochs(x, y, w0, batch_size=100, learning_rate=0.05, epochs=3)
    np.testing.assert_allclose(ws[1], w0 - 0.05 * jax.grad(matmul.mse)(w0, x, y), atol=1e-6)
    ws10, losses10 = matmul.gd_epochs(x, y, w0, batch_size=10, learning_rate=0.05, epochs=3)
    assert np.abs(ws[1] - ws10[1]).max() > 0.1            # same data, same rate: other weights
    assert losses10[-1] < losses[-1] < losses[0]          # more updates per epoch descend further here
    with pytest.raises(ValueError, match="must divide"):
        matmul.gd_epochs(x, y, w0, batch_size=7, learning_rate=0.05, epochs=1)
