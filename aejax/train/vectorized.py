"""Vectorised seeds: all seeds of one configuration trained in ONE compiled program.

Tiny models (the tabular autoencoder: 2,196 parameters, batch 32) are bound by
per-step overhead, not arithmetic, so N seeds cost little more than one when
their steps run side by side. :func:`fit_seeds` stacks every seed's train
state, data and keys along a leading seed axis ``[S, ...]`` and runs
``jax.vmap`` of the same epoch the sequential :class:`~aejax.train.step.Trainer`
runs (one ``lax.scan`` of :func:`~aejax.train.step.train_step` over the batches),
so each seed gets exactly what a run of its own gets:

- its own data split and scaling (the data are loaded and prepared per seed,
  then stacked: the splits of one configuration have the same sizes),
- its own initial parameters and keys (``jax.vmap`` of the same init program
  over the seeds, bit-identical to :func:`~aejax.train.step.init_state`),
- its own shuffles (the Trainer's ``batch_indices(data_key, epoch)``) and
  per-step keys (``fold_in(step_key, step)``), its own best epoch, early stopping and divergence.

Results equal the sequential runs to float tolerance (a test asserts it; a
batched matmul may round differently from a plain one). :func:`train_seeds`
then writes each seed's own run directory with the full contract
(config.json, metrics.jsonl, summary.json, checkpoints/latest+best, analysis,
figures, report.html). Summary timings are the group's: ``train_s`` is the
wall time of the vectorised epochs, ``train_samples_per_s`` this run's samples
over it, ``vectorized_seeds`` the group size. The ``train.strategy`` setting is
not used: with several devices the seed axis is split over them.

A group that was killed part-way restarts from epoch 0 (its runs have no
periodic checkpoints); finished runs are never retrained (see aejax/sweep.py).
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from aejax.errors import UserError
from aejax.train.fit import new_loop, not_finite, record_epoch
from aejax.train.step import AXIS, RUN_ONCE, Task, Trainer, batch_step, host, init_program


def check_same_but_seed(cfgs: Sequence[Mapping]) -> None:
    """Raise ValueError unless the configs differ in ``seed`` only (and the seeds are distinct)."""
    from aejax.config import flatten
    first = {k: v for k, v in flatten(cfgs[0]).items() if k != "seed"}
    for c in cfgs[1:]:
        other = {k: v for k, v in flatten(c).items() if k != "seed"}
        if other != first:
            diff = sorted(k for k in set(first) | set(other) if first.get(k) != other.get(k))
            raise ValueError(f"vectorised seeds need configs that differ only in seed; these differ in {diff}")
    seeds = [c["seed"] for c in cfgs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"vectorised seeds need distinct seeds, got {seeds}")


class SeedPrograms:
    """The compiled programs for S seeds of one task: init, epoch, evaluation, best-state select.

    ``trainer`` supplies the batching rules (batch size, dropped ragged batch,
    padded / masked evaluation) so the numbers are those of the sequential run.
    """

    def __init__(self, task: Task, trainer: Trainer, example_shape, n_seeds: int):
        self.task, self.trainer, self.n_seeds = task, trainer, n_seeds
        self.example_shape = tuple(example_shape)
        mesh = trainer.mesh
        # The seed axis is split over the devices when it divides evenly, else replicated.
        self.sharding = NamedSharding(mesh, P(AXIS)) if n_seeds % trainer.n_dev == 0 else trainer.replicated
        self._init = jax.jit(jax.vmap(init_program(task, self.example_shape)))
        self._epoch = jax.jit(self._epoch_impl, donate_argnums=0)
        self._eval = jax.jit(jax.vmap(self._eval_one))
        self._select = jax.jit(select)

    def put(self, x):
        """Place a stacked array [S, ...] (or pytree) with the seed-axis sharding."""
        return jax.device_put(x, self.sharding)

    def init(self, seeds: Sequence[int]):
        """(state, keys) stacked over seeds: [S, ...] leaves, equal to ``init_state`` per seed."""
        seeds = jnp.asarray(np.asarray(seeds, np.uint32))
        compiled = self._init.lower(seeds).compile(compiler_options=RUN_ONCE)
        return self.put(compiled(seeds))

    def abstract_init(self, seeds: Sequence[int]):
        """Shapes of (state, keys) with the seed-axis sharding, without running anything."""
        shapes = jax.eval_shape(self._init, jnp.zeros(len(seeds), jnp.uint32))
        return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=self.sharding), shapes)

    def _epoch_one(self, state, x, idx, step_key):
        # One seed's epoch: the body of Trainer._epoch_mesh (without its batch sharding
        # constraint); idx [nb, B] are the seed's shuffled batches, made on the host.
        state, metrics = jax.lax.scan(lambda st, idx_b: batch_step(self.task, st, x[idx_b], step_key), state, idx)
        return state, jax.tree.map(jnp.mean, metrics)

    def _epoch_impl(self, state, x, idx, step_key, active):
        new, metrics = jax.vmap(self._epoch_one)(state, x, idx, step_key)
        return select(active, new, state), metrics  # stopped seeds keep their state

    def batches(self, data_keys, epoch: int, n: int):
        """Every seed's shuffled batches for ``epoch``, made by the Trainer's own rule: [S, nb, B] on device."""
        return self.put(np.stack([self.trainer.batch_indices(data_keys[s], epoch, n)
                                  for s in range(self.n_seeds)]))  # [S, nb, B]

    def compile_epoch(self, state, x, data_key, step_key) -> None:
        """Compile the epoch ahead of time (from abstract or concrete arguments)."""
        del data_key
        nb = x.shape[1] // self.trainer.batch_size
        idx = jax.ShapeDtypeStruct((self.n_seeds, nb, self.trainer.batch_size), jnp.int32, sharding=self.sharding)
        self._epoch = self._epoch.lower(state, x, idx, step_key, jnp.ones(self.n_seeds, bool)).compile()

    def epoch(self, state, x, data_keys, step_key, epoch: int, active: np.ndarray, *, batches=None):
        """One epoch of every active seed: (state, {metric: [S]}) on device.

        ``data_keys``: the stacked data keys (or a list of the per-seed ones);
        ``batches``: the epoch's :meth:`batches` when already made.
        """
        if batches is None:
            batches = self.batches(data_keys, epoch, x.shape[1])
        return self._epoch(state, x, batches, step_key, jnp.asarray(active))

    def _eval_one(self, params, x_in, target, key):
        return self.trainer._eval_impl(params, x_in, target, key, constrain=False)  # one seed, under vmap

    def evaluate(self, params, x_in, target, key):
        """{metric: [S]}: each seed's mean over all examples of its split."""
        return self._eval(params, x_in, target, key)

    def select(self, mask: np.ndarray, new, old):
        """Per seed: ``new`` where ``mask`` else ``old`` (a fresh pytree)."""
        return self._select(jnp.asarray(mask), new, old)


def select(mask, new, old):
    """Per seed: ``new`` where ``mask`` [S] else ``old``, for pytrees stacked over seeds."""
    return jax.tree.map(lambda n, o: jnp.where(mask.reshape(-1, *([1] * (n.ndim - 1))), n, o), new, old)


def unstack(tree, s: int):
    """Seed ``s`` of a stacked pytree."""
    return jax.tree.map(lambda a: a[s], tree)


def fit_seeds(programs: SeedPrograms, seeds: Sequence[int], arrays: Mapping[str, Any], *, epochs: int,
              patience: int = 0, on_epoch: Callable[[int, list], None] | None = None) -> dict:
    """Train S seeds side by side; the epoch loop of :func:`aejax.train.fit.fit` per seed.

    ``arrays``: stacked device arrays ``train`` [S, N, ...], ``val_in``, ``val``.
    ``on_epoch(epoch, rows)`` gets one metrics row per seed (None for a seed
    that no longer trains). Returns ``state`` (the last state of every seed),
    ``best`` (each seed's best state by ``val/loss``), ``loops`` (per-seed loop
    records as in ``fit``), ``diverged`` ({seed index: message}) and timings:
    ``setup_s`` (init + compile, side by side), ``train_s`` (epoch programs only).
    """
    t0 = time.perf_counter()
    n = len(seeds)
    abs_state, abs_keys = programs.abstract_init(seeds)
    with ThreadPoolExecutor(1) as pool:  # compile the epoch while the parameters are initialised
        compiling = pool.submit(programs.compile_epoch, abs_state, arrays["train"], abs_keys["data"],
                                abs_keys["step"])
        state, keys = programs.init(seeds)
        compiling.result()
    setup_s = time.perf_counter() - t0
    loops = [new_loop() for _ in range(n)]
    best = jax.tree.map(jnp.copy, state)  # the live state is donated to the next epoch
    active = np.ones(n, bool)
    diverged: dict[int, str] = {}
    x = arrays["train"]
    n_step_examples = (x.shape[1] // programs.trainer.batch_size) * programs.trainer.batch_size
    data_keys = [keys["data"][s] for s in range(n)]  # unstacked once, for the host-side shuffles
    batches = programs.batches(data_keys, 1, x.shape[1])
    train_s = 0.0
    for epoch in range(1, epochs + 1):
        if not active.any():
            break
        t_epoch = time.perf_counter()
        state, train_metrics = programs.epoch(state, x, keys["data"], keys["step"], epoch, active,
                                              batches=batches)
        if epoch < epochs:  # the next epoch's shuffles, made while the device runs this one
            batches = programs.batches(data_keys, epoch + 1, x.shape[1])
        train_metrics = host(train_metrics)  # the one sync of the epoch
        epoch_s = time.perf_counter() - t_epoch
        train_s += epoch_s
        val_metrics = host(programs.evaluate(state.params, arrays["val_in"], arrays["val"], keys["eval"]))
        steps = np.asarray(host(state.step)).reshape(n)
        improved = np.zeros(n, bool)
        rows: list = [None] * n
        for s in np.flatnonzero(active):
            tm = {k: float(np.asarray(v).reshape(n)[s]) for k, v in train_metrics.items()}
            vm = {k: float(np.asarray(v).reshape(n)[s]) for k, v in val_metrics.items()}
            rows[s], outcome = record_epoch(loops[s], epoch, steps[s], tm, vm, epoch_s, patience=patience,
                                            samples=n_step_examples)
            if outcome == "diverged":
                diverged[int(s)] = f"{not_finite(epoch, tm, vm)}; training stopped. Try a lower train.learning_rate."
            improved[s] = outcome == "improved"
            active[s] = outcome != "diverged" and not loops[s]["stopped"]
        if improved.any():
            best = programs.select(improved, state, best)
        if on_epoch is not None:
            on_epoch(epoch, rows)
    return {"state": state, "best": best, "keys": keys, "loops": loops, "diverged": diverged,
            "setup_s": setup_s, "train_s": train_s}


def load_seed_data(cfgs: Sequence[Mapping], hooks=None) -> list:
    """Each seed's dataset, loaded and prepared (``hooks.prepare_data``) exactly as its own run would."""
    from aejax import data as data_lib
    out = []
    for c in cfgs:
        d = c["data"]
        ds = data_lib.load(d["name"], seed=c["seed"], val_fraction=d["val_fraction"],
                           test_fraction=d["test_fraction"], limit=d["limit"] or None, options=d["options"])
        if hooks is not None and hasattr(hooks, "prepare_data"):
            ds = hooks.prepare_data(ds, c)
        out.append(ds)
    for split in ("train", "val", "test"):
        shapes = {getattr(ds, split).x.shape for ds in out}
        if len(shapes) > 1:
            raise UserError(f"sweep.vectorize_seeds: the {split} splits of seeds "
                            f"{[c['seed'] for c in cfgs]} differ in shape ({sorted(shapes)}); "
                            "run this sweep without sweep.vectorize_seeds")
    return out


def build(cfg: Mapping, example_shape, n_seeds: int, n_train: int):
    """(task, trainer, programs) for a config, as the runner builds them."""
    from aejax import models
    from aejax.train.step import optimizer_from_config
    t, d = cfg["train"], cfg["data"]
    try:
        model = models.build(cfg["model"], example_shape)
        task = Task(model, optimizer_from_config(t, n_train // t["batch_size"]),
                    t["loss"], float(d["noise_std"]))
        trainer = Trainer(task, t["batch_size"], t["eval_batch_size"], "mesh")
    except ValueError as e:
        raise UserError(str(e)) from None
    return task, trainer, SeedPrograms(task, trainer, example_shape, n_seeds)


def seed_arrays(datasets, cfgs, noise_std: float) -> dict[str, np.ndarray]:
    """Host arrays stacked over seeds [S, N, ...]; val/test inputs corrupted per seed as the runner does."""
    from aejax.runner import corrupt_np
    out: dict[str, list] = {k: [] for k in ("train", "val", "test", "val_in", "test_in")}
    for ds, c in zip(datasets, cfgs):
        rng = np.random.default_rng([c["seed"], 1])
        for split in ("train", "val", "test"):
            out[split].append(getattr(ds, split).x)
        for split in ("val", "test"):  # same order of draws as the runner: val, then test
            out[f"{split}_in"].append(corrupt_np(getattr(ds, split).x, noise_std, rng))
    return {k: np.stack(v) for k, v in out.items()}  # each [S, N, ...]


def train_seeds(cfgs: Sequence[Mapping], run_dirs: Sequence[Path], *, hooks=None,
                t_start: float | None = None) -> list[dict]:
    """Train configs that differ only in ``seed`` as one vectorised program; write each run directory.

    ``run_dirs`` must be prepared (``runner.prepare_workdir``: config.json
    written, no stale checkpoints). Returns the summaries (also written as
    each run's summary.json). A seed whose loss diverges gets no summary; the
    others are finished first, then :class:`~aejax.train.fit.TrainingDiverged`
    is raised naming it.
    """
    from aejax import runner
    from aejax.train.checkpoint import Checkpoints
    from aejax.train.fit import TrainingDiverged

    t_start = time.perf_counter() if t_start is None else t_start
    try:
        check_same_but_seed(cfgs)
    except ValueError as e:
        raise UserError(str(e)) from None
    cfg0 = cfgs[0]
    t, d = cfg0["train"], cfg0["data"]
    seeds = [c["seed"] for c in cfgs]
    run_dirs = [Path(r) for r in run_dirs]
    datasets = load_seed_data(cfgs, hooks)
    example_shape = datasets[0].example_shape
    if len(datasets[0].train) < t["batch_size"]:
        raise UserError(f"train.batch_size={t['batch_size']} is larger than the {len(datasets[0].train)} "
                        "training examples; lower it")
    task, trainer, programs = build(cfg0, example_shape, len(cfgs), len(datasets[0].train))
    host_arrays = seed_arrays(datasets, cfgs, float(d["noise_std"]))
    arrays = {k: programs.put(v) for k, v in host_arrays.items()}
    t_setup = time.perf_counter()
    for rd in run_dirs:
        (rd / "metrics.jsonl").unlink(missing_ok=True)

    def write_rows(epoch, rows):
        for rd, row in zip(run_dirs, rows):
            if row is not None:
                with (rd / "metrics.jsonl").open("a") as f:
                    f.write(json.dumps(row) + "\n")

    res = fit_seeds(programs, seeds, arrays, epochs=t["epochs"], patience=t["patience"], on_epoch=write_rows)
    loops = res["loops"]
    test = host(programs.evaluate(res["best"].params, arrays["test_in"], arrays["test"], res["keys"]["eval"]))
    n_params = int(sum(np.size(p) for p in jax.tree.leaves(unstack(res["best"].params, 0))))
    steps_per_epoch = len(datasets[0].train) // t["batch_size"]
    epochs_done = max(max(lp["epoch"] for lp in loops), 1)
    first_step_s = (t_setup - t_start + res["setup_s"]
                    + (res["train_s"] / epochs_done) / max(steps_per_epoch, 1))
    summaries = []
    for s, (cfg, rd, ds) in enumerate(zip(cfgs, run_dirs, datasets)):
        if s in res["diverged"]:
            continue
        loop = loops[s]
        ckpt = Checkpoints(rd / "checkpoints")
        try:
            ckpt.save("latest", loop["epoch"], unstack(res["state"], s), loop)
            ckpt.save("best", loop["best_epoch"], unstack(res["best"], s), loop)
        finally:
            ckpt.close()
        params = unstack(res["best"].params, s)
        seed_arrs = {k: trainer.put(v[s]) for k, v in host_arrays.items()}
        seed_test = {k: float(np.asarray(v).reshape(len(cfgs))[s]) for k, v in test.items()}
        summary = runner.make_summary(ds, loop, seed_test, n_params=n_params, wall_s=time.perf_counter() - t_start,
                                      train_s=res["train_s"], setup_s=res["setup_s"], first_step_s=first_step_s,
                                      n_dev=trainer.n_dev, vectorized_seeds=len(cfgs))
        outputs = runner.save_examples(trainer, params, ds, seed_arrs, cfg, rd)
        if d["noise_std"] > 0:
            summary["test/psnr_noisy"] = runner._psnr(host_arrays["test_in"][s], ds.test.x)
            summary["test/psnr_denoised"] = summary["test/psnr"]
        if hooks is not None and hasattr(hooks, "after_training"):
            summary.update(hooks.after_training(cfg=cfg, workdir=rd, trainer=trainer, params=params,
                                                data=ds, arrays=seed_arrs) or {})
        (rd / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        runner.finish(rd, cfg, outputs)
        summaries.append(summary)
    if res["diverged"]:
        msgs = "; ".join(f"{run_dirs[s]}: {m}" for s, m in res["diverged"].items())
        raise TrainingDiverged(f"vectorised seeds: {len(res['diverged'])} of {len(cfgs)} runs diverged ({msgs})")
    return summaries
