"""Seed 002's question: "Why are my TensorFlow network weights and costs NaN when I use RELU activations?"

    aejax run relu_nan                  # 5 variants x 2 cross-entropy forms, 17 epochs each (~5 min on 2 cores)
    aejax run relu_nan --quick          # 2 epochs each: the NaN steps are the same, accuracies not final

The question: "any network of appreciable depth results in NaN for cost and at least some
weights ... In fact, the cost is often NaN right from the start", with kernels
``tf.truncated_normal(w_dims, stddev=0.1)``, biases 0.1 and ``MomentumOptimizer(0.02,
momentum=0.5)`` on a softmax cross-entropy. Reproduced here on mnist5k with 12 ReLU layers of 512
units, batch 100, and compared with the answers' remedies, one change each: He initialisation;
a last layer with σ = 1e-4 before the softmax; gradients clipped by value to [-5, 5] (the
answer's code, through ``train.grad_clip_value``) or by global norm to 1 (``train.grad_clip_norm``).
Each runs with the cross-entropy from ``log_softmax`` (stable) and as ``-log(softmax)`` (naive).

Reports, per variant and form, the first step whose loss or update is NaN / inf (the run stops
there and keeps its last finite parameters, as aejax's loop does with a diverged run), the peak
and final loss and the test accuracy: summary.json ``nan_step/<variant>/<form>``, analysis/answer.md,
figures/relu_nan_loss.png (loss per step, × at the NaN step), relu_nan_grad_norm.png,
relu_nan_init_scale.png (activation scale through the layers at initialisation).

Measured (seed 0, `aejax run relu_nan`): the question's setup is NaN at step 0 with the naive form
(the cost is NaN "right from the start") and at step 2 with the stable one; He initialisation
trains without NaN (test accuracy 0.94); the small last layer starts at ln 10 but is NaN at step
4 (stable) / 1 (naive): the layers below it still explode; clipping by value avoids NaN with the
stable form but the loss climbs to 6e8 and the net never learns (accuracy 0.08), and no clipping
helps the naive form (a NaN gradient clips to NaN); clipping the norm to 1 trains (0.74).

Code: :mod:`aejax.projects.qa.relu_nan`, :mod:`aejax.models.classifier`.
"""
from aejax.config import base_config
from aejax.projects.qa import relu_nan

run = relu_nan.run
resolve = relu_nan.check


def get_config() -> dict:
    cfg = base_config()
    cfg["data"]["name"] = "mnist5k"
    cfg["model"] = {"name": "mlp_classifier", "depth": 12, "width": 512, "classes": 10,
                    "weight_init": "truncated_normal", "weight_std": 0.1, "bias": 0.1, "last_std": 0.0}
    # momentum SGD (relu_nan.momentum); train.loss is not read: the loss is relu_nan.loss_forms' cross-entropy
    cfg["train"].update(epochs=17, batch_size=100, learning_rate=0.02, optimizer="sgd")
    cfg["relu_nan"] = relu_nan.section()
    cfg["analysis"]["enabled"] = False
    return cfg


def quick(cfg: dict) -> dict:
    from aejax.run.resolve import quick_config
    return quick_config(cfg, limit=None, analysis=False, batch_size=100, epochs=2, progress=False)
