"""A carefully written Keras 3 version of the course's dense and conv autoencoders (quality reference).

    KERAS_BACKEND=jax .venv/bin/python benchmarks/keras_reference.py --model dense --epochs 150
    .venv/bin/python benchmarks/keras_reference.py --model conv --epochs 15 --json out.json
    .venv/bin/python benchmarks/keras_reference.py --model dense --quick       # seconds

Same architecture, loss, optimiser, batch size, epochs and data split as
aejax's defaults (``experiments/mnist_dense.py``, ``experiments/mnist_conv.py``,
``aejax/config.py``):

- dense: 784 -> Dense 400 relu -> Dense 200 relu -> Dense 100 (linear code)
  -> Dense 200 relu -> Dense 400 relu -> Dense 784 sigmoid; batch 256.
- conv: Conv2D 16 (3x3, relu, same) -> MaxPooling2D 2 -> Conv2D 8 -> MaxPooling2D 2
  [7x7x8] -> Conv2D 8 -> UpSampling2D 2 -> Conv2D 16 -> UpSampling2D 2 ->
  Conv2D 1 (3x3, sigmoid); batch 128.
- the experiment's loss (``train.loss``: MSE for dense, binary cross-entropy for
  conv), ``keras.optimizers.Adam(learning_rate=1e-3)`` (Keras' defaults
  otherwise: glorot-uniform kernels unless ``--kernel-init`` names another, zero
  biases, epsilon 1e-7), ``model.fit``
  with ``shuffle=True`` on the training split, ``validation_data`` = the
  validation split.
- Data: ``aejax.run.builder.load_data`` on the experiment's config with
  ``data.name``, ``seed`` and ``data.limit`` set, so train / val / test are
  exactly aejax's (default ``idx:`` full Fashion-MNIST: 54,000 / 6,000 / 10,000).
- Like aejax (which evaluates its best checkpoint), the weights of the epoch
  with the lowest validation loss are restored before the test split is
  scored; the last epoch's test MSE is reported too. Test MSE = mean over
  pixels and examples of the squared error, computed with numpy from
  ``model.predict``.

``--replay-aejax`` separates the frameworks from the random draws: Keras starts
from the initial parameters ``aejax run`` draws for ``--seed`` and trains on
aejax's batches (its per-epoch shuffle, ragged batch dropped; one ``fit`` per
epoch, Adam's state carried on). Measured (conv, 2 epochs on 2,048 Fashion-MNIST
images, seed 0): test MSE 0.092695 vs ``aejax run``'s 0.092697 (plain Keras with
its own draws: 0.078857). ``dead_units`` in the JSON counts, per hidden ReLU
layer, the units / channels that output 0 for every test image.

The backend is the ``KERAS_BACKEND`` environment variable or ``--backend``
(default ``jax``; ``torch`` uses the CPU torch 2.13.0 of the ``bench`` extra).
TensorFlow is not needed.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
import types
from pathlib import Path

import numpy as np

FASHION = "idx:/usr/share/datasets/fashion-mnist"


def parse(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=("dense", "conv"), default="dense")
    p.add_argument("--epochs", type=int, default=None, help="default: the experiment's (150)")
    p.add_argument("--data", default=FASHION, help=f"aejax data source name (default {FASHION})")
    p.add_argument("--seed", type=int, default=None, help="default: the experiment's (0)")
    p.add_argument("--backend", choices=("jax", "torch"), default=os.environ.get("KERAS_BACKEND", "jax"))
    p.add_argument("--limit", type=int, default=0, help="keep at most this many examples per split")
    p.add_argument("--quick", action="store_true", help="2 epochs on 2,048 examples")
    p.add_argument("--drop-remainder", action="store_true",
                   help="train on the first batch_size * (N // batch_size) training examples, so every epoch has "
                        "aejax's number of steps (aejax drops a random ragged batch each epoch; Keras trains on it)")
    p.add_argument("--replay-aejax", action="store_true",
                   help="start from aejax's initial parameters for --seed and train on aejax's batches (its "
                        "per-epoch shuffles, ragged batch dropped): with aejax's random draws, does Keras end "
                        "where `aejax run` ends?")
    p.add_argument("--kernel-init", default="glorot_uniform",
                   help="kernel initializer of every layer (default glorot_uniform, Keras' own default; "
                        "he_uniform is aejax mnist_conv's)")
    p.add_argument("--json", metavar="OUT", help="write the results and per-epoch history as JSON")
    return p.parse_args(argv)


def build_model(keras, kind: str, model_cfg: dict, shape, kernel_init: str = "glorot_uniform"):
    """The Keras model equivalent to aejax's ``model`` config section, every kernel drawn by ``kernel_init``."""
    L = keras.layers
    init = {"kernel_initializer": kernel_init}
    act = model_cfg.get("activation", "relu")
    if kind == "dense":
        n = int(np.prod(shape))
        inp = keras.Input((n,))
        h = inp
        for units in model_cfg["hidden"]:
            h = L.Dense(units, activation=act, **init)(h)
        lat = model_cfg.get("latent_activation", "linear")
        h = L.Dense(model_cfg["latent_dim"], activation=None if lat == "linear" else lat, name="code", **init)(h)
        for units in reversed(model_cfg["hidden"]):
            h = L.Dense(units, activation=act, **init)(h)
        out = L.Dense(n, activation=model_cfg.get("output_activation", "sigmoid"), **init)(h)
        return keras.Model(inp, out, name="dense_ae")
    inp = keras.Input(tuple(shape))
    h = inp
    for ch, k in model_cfg["encoder"]:
        h = L.Conv2D(ch, k, activation=act, padding="same", **init)(h)
        h = L.MaxPooling2D(2, padding="same")(h)
    for ch, k in model_cfg["decoder"]:
        h = L.Conv2D(ch, k, activation=act, padding="same", **init)(h)
        h = L.UpSampling2D(2)(h)
    out = L.Conv2D(shape[-1], model_cfg["output_kernel"], activation=model_cfg.get("output_activation", "sigmoid"),
                   padding="same", **init)(h)
    return keras.Model(inp, out, name="conv_ae")


def aejax_draws(model, cfg: dict, shape, seed: int, n_train: int):
    """Put aejax's initial parameters for ``seed`` into the Keras ``model``; return ``order(epoch)``,
    the training indices of aejax's batches for that epoch (flattened, ragged batch dropped).

    The task and trainer are :func:`aejax.run.builder.build`'s for ``cfg``, as ``aejax run`` builds them."""
    import jax

    from aejax.run import builder
    from aejax.train.step import init_state
    built = builder.build(cfg, shape, n_train, strategy="mesh")
    state, keys = init_state(built.task, shape, seed)
    params = jax.device_get(state.params)  # numpy arrays
    # Keras' layer order: encoder layers, decoder layers, then (conv) the output convolution.
    names = sorted((k for k in params if k != "out"), key=lambda k: (not k.startswith("enc"), int(k.split("_")[1])))
    names += ["out"] if "out" in params else []
    model.set_weights([params[n][w] for n in names for w in ("kernel", "bias")])
    return lambda epoch: built.trainer.batch_indices(keys["data"], epoch, n_train).ravel()


def main(argv=None) -> int:
    """Train the Keras model on aejax's split; print (and optionally save) the test MSE."""
    args = parse(argv)
    os.environ["KERAS_BACKEND"] = args.backend  # must precede importing keras
    import keras

    from aejax.run import builder, experiment

    exp = experiment.load("mnist_dense" if args.model == "dense" else "mnist_conv")
    cfg = exp.get_config()
    t = cfg["train"]
    epochs = args.epochs or (2 if args.quick else t["epochs"])
    seed = cfg["seed"] if args.seed is None else args.seed
    cfg["seed"] = seed
    cfg["data"].update(name=args.data, limit=args.limit or (2048 if args.quick else 0))
    ds = builder.load_data(cfg, exp)  # aejax's own split for the seed
    shape = ds.example_shape

    def prep(x):  # dense: [N, 784]; conv: [N, 28, 28, 1]
        return x.reshape(len(x), -1) if args.model == "dense" else x

    xtr, xva, xte = prep(ds.train.x), prep(ds.val.x), prep(ds.test.x)
    if args.drop_remainder:
        xtr = xtr[: len(xtr) // t["batch_size"] * t["batch_size"]]
    keras.utils.set_random_seed(seed)
    model = build_model(keras, args.model, cfg["model"], shape, args.kernel_init)
    loss = {"mse": "mse", "bce": "binary_crossentropy", "mae": "mae"}[t["loss"]]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=t["learning_rate"]), loss=loss)

    class BestAndTimes(keras.callbacks.Callback):
        """Keep the weights of the lowest validation loss; time every epoch."""

        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.weights, self.times = np.inf, 0, None, []

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t0)
            if logs["val_loss"] < self.best:
                self.best, self.best_epoch, self.weights = logs["val_loss"], epoch + 1, self.model.get_weights()

    cb = BestAndTimes()
    order = None
    if args.replay_aejax:
        order = aejax_draws(model, cfg, shape, seed, len(xtr))
    print(f"keras {keras.__version__} (backend {keras.backend.backend()}), {args.model}: "
          f"{model.count_params()} params; data {args.data}: train {len(xtr)}, val {len(xva)}, test {len(xte)}; "
          f"{epochs} epochs, batch {t['batch_size']}, loss {loss}", flush=True)
    t0 = time.perf_counter()
    n_trained = len(xtr)  # examples per epoch
    if order is None:
        hist = model.fit(xtr, xtr, batch_size=t["batch_size"], epochs=epochs, shuffle=True,
                         validation_data=(xva, xva), callbacks=[cb], verbose=2)
    else:  # one fit per epoch over that epoch's batches, in aejax's order (Adam's state carries on)
        hist = types.SimpleNamespace(history={})
        for e in range(1, epochs + 1):
            xe = xtr[order(e)]
            h = model.fit(xe, xe, batch_size=t["batch_size"], initial_epoch=e - 1, epochs=e, shuffle=False,
                          validation_data=(xva, xva), callbacks=[cb], verbose=2)
            for k, v in h.history.items():
                hist.history.setdefault(k, []).extend(v)
        n_trained = len(order(1))  # the ragged batch is dropped
    train_s = time.perf_counter() - t0

    def test_mse():
        pred = model.predict(xte, batch_size=1000, verbose=0)
        return float(np.mean((np.asarray(pred, np.float64) - xte) ** 2))

    def dead_units():
        """Hidden ReLU units / channels that output 0 for every test example (dead: no gradient)."""
        hidden = [layer for layer in model.layers[1:-1] if getattr(layer, "activation", None) is not None
                  and getattr(layer.activation, "__name__", "") == "relu"]
        probe = keras.Model(model.inputs, [layer.output for layer in hidden])
        outs = probe.predict(xte, batch_size=1000, verbose=0)
        axes = lambda a: tuple(range(np.ndim(a) - 1))  # all but the unit / channel axis
        return {layer.name: int((np.asarray(a).max(axis=axes(a)) <= 0).sum()) for layer, a in zip(hidden, outs)}

    last = test_mse()
    model.set_weights(cb.weights)
    best = test_mse()
    dead = dead_units()
    med_epoch = float(np.median(cb.times))
    result = {"framework": "keras", "keras": keras.__version__, "backend": keras.backend.backend(),
              "model": args.model, "params": int(model.count_params()), "data": args.data, "seed": seed,
              "epochs": epochs, "batch_size": t["batch_size"], "loss": loss, "kernel_init": args.kernel_init,
              "drop_remainder": args.drop_remainder,
              "replay_aejax": args.replay_aejax, "train_examples": n_trained,
              "val_examples": len(xva), "test_examples": len(xte),
              "test/mse": best, "test/mse_last_epoch": last, "best_epoch": cb.best_epoch,
              "best_val_loss": float(cb.best), "dead_units": dead, "train_s": train_s, "median_epoch_s": med_epoch,
              "samples_per_s": n_trained / med_epoch,
              "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "load_end": os.getloadavg(),
              "history": {k: [float(v) for v in vs] for k, vs in hist.history.items()}, "epoch_s": cb.times}
    print(f"keras {args.model}: test MSE {best:.6f} (best val epoch {cb.best_epoch}), last epoch {last:.6f}; "
          f"median epoch {med_epoch:.2f} s ({n_trained / med_epoch:.0f} samples/s), train {train_s:.0f} s; "
          f"dead ReLU units per layer {dead}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
