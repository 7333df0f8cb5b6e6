"""A dense layer over a batch is one matrix multiplication; full-batch and mini-batch descent differ.

The question (seed 002, "Can a dense layer on many inputs be represented as a single matrix
multiplication?"): for inputs X [N, D] and weights W [D, K], ``X @ W`` computes every example's
``x_n @ W`` at once, and in back propagation ``X.T @ E`` (E [N, K], the output errors) is the sum
of every example's weight gradient ``outer(x_n, e_n)``. Both hold exactly (:func:`dense_loop`,
:func:`dense_batched`, :func:`weight_grad_batched` against :func:`weight_grad_loop`). What the
asker's own answer adds is also true: using the whole set as one batch is full-batch gradient
descent, one update per pass over the data, which is not the same optimisation as updating after
each example or each mini-batch (:func:`gd_epochs`). ``benchmarks/batched_dense.py`` times it.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def dense_one(x, w, b):
    """One example: x [D] -> x @ W + b [K] (the question's ``matmul(input, weights)``)."""
    return x @ w + b


def dense_loop(x, w, b):
    """Every example on its own, in a Python loop: [N, D] -> [N, K]."""
    return jnp.stack([dense_one(x[n], w, b) for n in range(x.shape[0])])


def dense_batched(x, w, b):
    """All examples in one matrix multiplication: [N, D] @ [D, K] + [K]."""
    return x @ w + b


def weight_grad_loop(x, err):
    """dL/dW summed over examples, one outer product per example (L = sum_n e_n . (x_n W))."""
    return sum(jnp.outer(x[n], err[n]) for n in range(x.shape[0]))


def weight_grad_batched(x, err):
    """The same as one matrix multiplication: ``transpose(input) @ output_err`` (the question's)."""
    return x.T @ err


def mse(w, x, y):
    """Mean over examples and outputs of the squared error of a bias-free linear layer."""
    return jnp.mean((x @ w - y) ** 2)


def gd_epochs(x, y, w0, batch_size: int, learning_rate: float, epochs: int):
    """Plain gradient descent on :func:`mse`, the data in order, ``batch_size`` examples per
    update (N: full batch, one update per epoch; 1: one update per example). Returns the weights
    after every epoch [epochs + 1, D, K] and the full-data loss after every epoch [epochs + 1]."""
    n = x.shape[0]
    if n % batch_size:
        raise ValueError(f"batch_size={batch_size} must divide the {n} examples")
    xb = x.reshape(n // batch_size, batch_size, -1)
    yb = y.reshape(n // batch_size, batch_size, -1)
    grad = jax.grad(mse)

    def epoch(w, _):
        w = jax.lax.fori_loop(0, n // batch_size, lambda i, v: v - learning_rate * grad(v, xb[i], yb[i]), w)
        return w, (w, mse(w, x, y))

    _, (ws, losses) = jax.jit(lambda w: jax.lax.scan(epoch, w, None, length=epochs))(w0)
    return (np.concatenate([np.asarray(w0)[None], np.asarray(ws)]),
            np.concatenate([[float(mse(w0, x, y))], np.asarray(losses)]))


def toy_problem(n: int = 100, d: int = 10, k: int = 2, seed: int = 0):
    """The question's sizes: 100 inputs of 10 elements, a 2-output layer; a noisy linear target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    w_true = rng.normal(size=(d, k)).astype(np.float32)
    y = (x @ w_true + 0.1 * rng.normal(size=(n, k))).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(y), jnp.zeros((d, k), jnp.float32)
