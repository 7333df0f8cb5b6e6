"""aejax.train.programs: a Group of runs in one program (vectorised seeds) trains each run as the
Trainer trains it alone: same data / step keys (denoising noise included), losses and parameters."""
import jax
import numpy as np
import pytest

from aejax.train.step import init_state
from helpers import digits_group

RTOL, ATOL = 2e-4, 1e-5


@pytest.mark.parametrize("conv", [False, True], ids=["dense", "conv"])
def test_group_epochs_with_denoising_keys_equal_the_trainer(conv):
    """The conv model's seeds are unrolled on CPU (programs.seeds_unrolled), the dense model's vmapped;
    the Trainer trains the conv model in its looped epoch (mnist_conv's), with XLA's own gradients."""
    seeds = [3, 4]
    built, programs, datasets, arrays, _ = (
        digits_group(seeds, experiment_name="mnist_conv", model_sets=("model.encoder=[[8,3],[4,3]]",
                                                                      "model.decoder=[[4,3],[8,3]]"))
        if conv else digits_group(seeds))
    assert programs.unrolled == [conv and jax.default_backend() == "cpu"]
    trainer = built.trainer
    state, _ = programs.init()
    seq = []
    for s, seed in enumerate(seeds):
        st, k = init_state(built.task, datasets[s].example_shape, seed)
        np.testing.assert_array_equal(jax.random.key_data(k["data"]), jax.random.key_data(programs.keys["data"][s]))
        seq.append((trainer.put_state(st), k, trainer.put(datasets[s].train.x)))
    for epoch in (1, 2, 3):
        state, metrics = programs.epoch(state, epoch, np.ones(2, bool))
        val = programs.validate(state)
        for s in range(2):
            st, k, x = seq[s]
            st, m = trainer.epoch(st, x, k["data"], k["step"], epoch)
            seq[s] = (st, k, x)
            assert float(m["loss"]) == pytest.approx(float(metrics["loss"][s]), rel=RTOL)
            v = trainer.evaluate(st.params, arrays[s]["val_in"], arrays[s]["val"], k["eval"])
            assert float(v["loss"]) == pytest.approx(float(val["loss"][s]), rel=RTOL)
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL),
                         st.params, programs.member(state, s).params)
