"""Soft vs hard operation selection: softmax mixture, straight-through Gumbel-softmax, REINFORCE.

    aejax run op_selection               # ~20 s: 3 methods x 5 seeds, 3000 steps each
    aejax run op_selection --set op_selection.tau=0.5
    aejax run op_selection --set 'op_selection.ops=["square","add3","neg"]' --set 'op_selection.x_range=[-3,3]'

The question (``shared/seeds/002_*``, "How do I perform a differentiable operation selection in
TensorFlow?"):

    "I am trying to produce a mathematical operation selection nn model, which is based on the
    scalar input. The operation is selected based on the softmax result which is produce by the
    nn. [...] So far I've come up with applying argmax and onehot on the softmax output in order
    to produce a mask [...] The issue is that neither argmax nor onehot appears to be
    differentiable."

The network (model ``op_selector``): scalar x -> MLP -> one logit per operation
(``op_selection.ops``; default x^2, x + 3, -x, 2x, sin(pi x)). x is uniform on
``op_selection.x_range`` ([-5, 5]), cut into equal intervals; on interval i the target is
op_i(x), so the right operation is known.
Three ways to train it, each on the same seeds (vmapped) and scored the same way, by the
operation its argmax picks on a test grid:

- ``soft``: output = sum_i softmax_i * op_i(x), the answer's soft attention;
- ``gumbel``: forward pass hard (one-hot of argmax(logits + Gumbel noise)), backward pass the
  straight-through Gumbel-softmax gradient at temperature ``op_selection.tau``;
- ``reinforce``: the operation sampled from the softmax, score-function estimator with a
  batch-mean baseline (the answer's reinforcement-learning route).

Writes ``summary.json`` (``grad/max_abs_hard_mask`` = 0: argmax / one-hot alone pass no
gradient; per method ``train/final_err_*``, ``test/mse_hard_*``, ``test/select_acc_*``; the soft
mixture's MSE and the weight it leaves on unselected operations), ``metrics.jsonl`` (per step,
mean over seeds) and the figures ``op_selection_gradient.png`` (zero gradient through argmax),
``op_selection_training.png`` (hard-choice MSE and selection accuracy per step, all methods),
``op_selection_probs.png`` (softmax weights against x over the intervals) and
``op_selection_outputs.png`` (target vs each method's output and choice). ``analysis/answer.md``
states the comparison from the numbers. Code: :mod:`aejax.projects.qa.op_selection`.

Measured (default, seeds 0-4): only the straight-through Gumbel-softmax learns to choose (right
operation at 91 % of test x); the soft mixture reaches a low mixture MSE by blending operations
that are not the right one (its argmax is right at 63 %), REINFORCE stalls at 60 %. With the
three operations of ``--quick`` on [-3, 3] all three methods choose right at > 99 %.
"""
from __future__ import annotations

from aejax.config import base_config
from aejax.projects.qa import op_selection


def get_config() -> dict:
    """5 operations on [-5, 5], a 32-unit tanh selector, Adam 1e-2, 3000 steps of 128, 5 seeds."""
    cfg = base_config()
    cfg["data"]["name"] = "op_task"       # generated here from op_selection.*
    cfg["model"] = {"name": "op_selector", "hidden": [32], "activation": "tanh"}
    cfg["train"].update(epochs=3000, batch_size=128, learning_rate=1e-2, optimizer="adam", progress=False)
    cfg["analysis"]["enabled"] = False    # no autoencoder code to analyse
    cfg["op_selection"] = {"ops": ["square", "add3", "neg", "double", "sin"], "x_range": [-5.0, 5.0],
                           "n_train": 2048, "n_test": 1001, "tau": 1.0, "seeds": 5}
    return cfg


def quick(cfg: dict) -> dict:
    """Smoke run: the easy task (3 operations on [-3, 3]), 200 steps, 2 seeds."""
    cfg["quick"] = True
    cfg["train"]["epochs"] = 200
    cfg["op_selection"].update(ops=["square", "add3", "neg"], x_range=[-3.0, 3.0], seeds=2, n_test=201)
    return cfg


resolve = op_selection.resolve   # checks op_selection.* (exit 2 naming the key)
run = op_selection.run           # train the three methods, figures, analysis/answer.md, report.html
