"""aejax.projects.qa.op_selection and `aejax run op_selection`: argmax / one-hot pass no gradient,
the soft, straight-through Gumbel and REINFORCE objectives do; the task's labels; a quick run."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aejax.errors import UserError
from aejax.projects.qa import op_selection as ops_lib
from aejax.run import experiment as experiment_lib
from aejax.run.resolve import resolve_config

OPS = ("square", "add3", "neg")


def _batch(n=64, seed=0):
    x = jnp.linspace(-3.0, 3.0, n)
    logits = jax.random.normal(jax.random.key(seed), (n, len(OPS)))
    return x, logits, ops_lib.values(OPS, x), ops_lib.target(OPS, x, (-3.0, 3.0))


def test_argmax_and_one_hot_alone_pass_no_gradient():
    x, logits, vals, y = _batch()
    assert np.all(np.asarray(ops_lib.hard_mask_gradient(logits, vals)) == 0.0)
    # the question's loss on the masked output, written out: jax.grad is exactly zero
    def masked_loss(lg):
        mask = jax.nn.one_hot(jnp.argmax(jax.nn.softmax(lg), axis=1), len(OPS))
        return jnp.mean((jnp.sum(vals * mask, 1) - y) ** 2)
    assert np.all(np.asarray(jax.grad(masked_loss)(logits)) == 0.0)
    assert np.abs(np.asarray(ops_lib.soft_mask_gradient(logits, vals))).max() > 0.1


@pytest.mark.parametrize("method", ops_lib.METHODS)
def test_every_method_has_a_gradient_and_its_output_error(method):
    x, logits, vals, y = _batch()
    (loss, err), g = jax.value_and_grad(
        lambda lg: ops_lib.objective(method, lg, vals, y, jax.random.key(1), 1.0), has_aux=True)(logits)
    assert err.shape == x.shape and np.isfinite(float(loss))
    assert np.abs(np.asarray(g)).max() > 0.0
    if method == "gumbel":  # forward hard: the output is one operation's value exactly
        assert np.all(np.min(np.abs(np.asarray(vals) - (np.asarray(y) + np.sqrt(np.asarray(err)))[:, None])
                             * np.abs(np.asarray(vals) - (np.asarray(y) - np.sqrt(np.asarray(err)))[:, None]),
                             axis=1) < 1e-3)


def test_right_operation_and_target():
    x = jnp.array([-3.0, -1.01, -0.99, 0.99, 1.01, 3.0])
    np.testing.assert_array_equal(ops_lib.right_op(x, (-3.0, 3.0), 3), [0, 0, 1, 1, 2, 2])
    np.testing.assert_allclose(ops_lib.target(OPS, x, (-3.0, 3.0)),
                               [9.0, 1.01 ** 2, 2.01, 3.99, -1.01, -3.0], rtol=1e-6)


def test_quick_run_compares_the_three_methods(tmp_path, cli):
    out = cli("run", "op_selection", "--quick", "--workdir", tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["grad/max_abs_hard_mask"] == 0.0 and s["grad/max_abs_soft_mask"] > 0
    for m in ops_lib.METHODS:
        assert s[f"test/select_acc_{m}"] > 0.9, (m, s[f"test/select_acc_{m}"])  # 200 steps suffice on 3 ops
        assert np.isfinite(s[f"test/mse_hard_{m}"]) and np.isfinite(s[f"train/final_err_{m}"])
    for name in ("training", "probs", "outputs", "gradient"):
        assert (tmp_path / "figures" / f"op_selection_{name}.png").exists(), name
    for rel in ("config.json", "metrics.jsonl", "report.html", ".aejax-complete", "analysis/answer.md"):
        assert (tmp_path / rel).exists(), rel
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 200 and {"test/select_acc_gumbel", "train/err_reinforce"} <= set(rows[0])


@pytest.mark.parametrize("setting, key", [('op_selection.ops=["square","cube"]', "op_selection.ops"),
                                          ("op_selection.tau=0", "op_selection.tau"),
                                          ("op_selection.x_range=[1,0]", "op_selection.x_range"),
                                          ("data.name=mnist5k", "data.name")])
def test_bad_settings_are_user_errors_naming_the_key(setting, key):
    with pytest.raises(UserError, match=key):
        resolve_config(experiment_lib.load("op_selection"), [setting])
