"""The compiled programs the one loop (:mod:`aejax.train.loop`) drives: one run, or M x S runs.

- :class:`Single`: one run through :class:`aejax.train.step.Trainer` (data parallel over every
  device: a mesh or pmap).
- :class:`Group`: M tasks (configurations that differ in shape, e.g. ``model.latent_dim``) x S
  seeds in ONE compiled program: each epoch is one ``lax.scan`` over the batches whose body runs,
  for every task, the engine's :func:`~aejax.train.step.batch_step` under ``jax.vmap`` over the
  seeds (on CPU, for a model with convolutions, each seed's step one after another:
  :func:`seeds_unrolled`); a task whose seeds have all stopped is skipped (``lax.cond``), a
  stopped run is frozen.
  Tiny models are bound by per-step overhead, so S x M of them cost little more than one.

Each run of a group gets exactly what a run of its own gets: its seed's data split (stacked
``[S, N, ...]``), initial state and keys (the engine's ``init_program`` vmapped over the seeds),
shuffles (``Trainer.batch_indices(data_key, epoch)``), per-step keys (``fold_in(step_key, step)``)
and padded, masked evaluation; the numbers equal the single runs to float tolerance (tested).

Run ``k`` of a group is task ``k // S``, seed ``k % S``. Both classes compile the epoch while the
parameters are initialised (:meth:`init`); afterwards they hold the device data and the keys.
"""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from aejax.train.step import (AXIS, RUN_ONCE, Task, Trainer, abstract_init, batch_step, init_program, init_state,
                              scan_steps)


def select(mask, new, old):
    """Per leading index: ``new`` where ``mask`` [S] else ``old``, for pytrees stacked over runs."""
    return jax.tree.map(lambda n, o: jnp.where(mask.reshape(-1, *([1] * (n.ndim - 1))), n, o), new, old)


class Single:
    """One run: the loop's programs over a :class:`Trainer` (``n = 1``)."""

    n = 1

    def __init__(self, trainer: Trainer, arrays: Mapping[str, np.ndarray], example_shape, seed: int):
        self.trainer, self.seed, self.example_shape = trainer, int(seed), tuple(example_shape)
        self.arrays = {k: trainer.put(v) for k, v in arrays.items()}  # device arrays, replicated

    def init(self):
        """(state, best): the initial state, placed for training; compiles the epoch meanwhile."""
        tr = self.trainer
        abs_state, abs_keys = (tr.abstract(a) for a in abstract_init(tr.task, self.example_shape, self.seed))
        with ThreadPoolExecutor(1) as pool:  # XLA compiles without the GIL
            compiling = pool.submit(tr.compile_epoch, abs_state, self.arrays["train"], abs_keys["data"],
                                    abs_keys["step"])
            state, keys = init_state(tr.task, self.example_shape, self.seed)
            self.keys = tr.put(keys)
            state = tr.put_state(state)
            compiling.result()
        return state, jax.tree.map(jnp.copy, state)

    def epoch(self, state, epoch, active):
        state, metrics = self.trainer.epoch(state, self.arrays["train"], self.keys["data"], self.keys["step"],
                                            epoch)
        return state, jax.tree.map(lambda v: jnp.reshape(v, (1,)), metrics)

    def validate(self, state):
        params = self.trainer.get_state(state).params
        metrics = self.trainer.evaluate(params, self.arrays["val_in"], self.arrays["val"], self.keys["eval"])
        return jax.tree.map(lambda v: jnp.reshape(v, (1,)), metrics)

    def keep_best(self, improved, state, best):
        return jax.tree.map(jnp.copy, state) if improved[0] else best

    def steps(self, state):
        return jnp.reshape(self.trainer.get_state(state).step, (1,))

    def member(self, state, i):
        return self.trainer.get_state(state)

    def set_member(self, state, i, value):
        return self.trainer.put_state(value)

    def member_abstract(self, i):
        abs_state, _ = abstract_init(self.trainer.task, self.example_shape, self.seed)
        return self.trainer.abstract(abs_state)

    def view(self, i):
        """(trainer, device arrays, eval key) of run ``i``, for its end-of-training outputs."""
        return self.trainer, self.arrays, self.keys["eval"]


def seeds_unrolled(task: Task, example_shape) -> bool:
    """Whether a :class:`Group` trains ``task``'s seeds one after another inside each step rather than
    vmapped over them: on CPU, for a model with convolutions. Vmapped over the seeds, each convolution
    becomes a grouped one, which XLA:CPU runs at about half the speed, whereas unrolled seeds train as
    fast as one run (``benchmarks/scan_convolutions.py``; the numbers in benchmarks/README.md); dense
    models keep the vmap, whose batched matmuls pay. Unrolled, the program holds one step per seed,
    so its compile time grows with the seeds."""
    if jax.default_backend() != "cpu":
        return False
    state, keys = abstract_init(task, example_shape, 0)
    x = jax.ShapeDtypeStruct((1, *example_shape), jnp.float32)
    jaxpr = jax.make_jaxpr(lambda p, x, k: task.objective(p, x, x, k))(state.params, x, keys["step"])
    return "conv_general_dilated" in str(jaxpr)


class Group:
    """M tasks x S seeds in one program; ``arrays`` are host arrays stacked over seeds [S, N, ...]."""

    def __init__(self, tasks: Sequence[Task], seeds: Sequence[int], arrays: Mapping[str, np.ndarray],
                 example_shape, *, batch_size: int, eval_batch_size: int, devices=None):
        self.tasks, self.seeds = list(tasks), [int(s) for s in seeds]
        self.n_tasks, self.n_seeds = len(self.tasks), len(self.seeds)
        self.n = self.n_tasks * self.n_seeds
        self.example_shape = tuple(example_shape)
        devices = list(devices or jax.devices())
        # One Trainer per task: the batching rules and the padded evaluation of a single run.
        self.trainers = [Trainer(t, batch_size, eval_batch_size, "mesh", devices=devices) for t in self.tasks]
        self.unrolled = [seeds_unrolled(t, self.example_shape) for t in self.tasks]
        mesh = self.trainers[0].mesh
        # The seed axis is split over the devices when it divides evenly, else replicated.
        self.sharding = (NamedSharding(mesh, P(AXIS)) if self.n_seeds % len(devices) == 0
                         else self.trainers[0].replicated)
        self.host = dict(arrays)
        self.arrays = {k: jax.device_put(v, self.sharding) for k, v in arrays.items()}
        self._epoch = jax.jit(self._epoch_impl, donate_argnums=0)
        self._validate = jax.jit(self._validate_impl)
        self._keep = jax.jit(lambda mask, new, old: [select(mask[j], n, o) for j, (n, o)
                                                      in enumerate(zip(new, old))])
        self._views: dict = {}

    # -- initialisation ---------------------------------------------------------------------
    def _init_all(self, seed):
        inits = [init_program(task, self.example_shape)(seed) for task in self.tasks]
        return [st for st, _ in inits], inits[0][1]  # keys depend on the seed only

    def init(self):
        seeds = jnp.asarray(self.seeds, jnp.uint32)
        program = jax.jit(jax.vmap(self._init_all))
        abs_states, abs_keys = jax.eval_shape(program, seeds)
        place = lambda t: jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=self.sharding), t)
        with ThreadPoolExecutor(1) as pool:
            compiling = pool.submit(self._compile_epoch, place(abs_states), place(abs_keys))
            states, keys = program.lower(seeds).compile(compiler_options=RUN_ONCE)(seeds)
            states, self.keys = jax.device_put((states, keys), self.sharding)
            compiling.result()
        self._host_keys = jax.device_get(keys)
        return states, jax.tree.map(jnp.copy, states)

    def _compile_epoch(self, abs_states, abs_keys):
        nb = self.arrays["train"].shape[1] // self.trainers[0].batch_size
        idx = jax.ShapeDtypeStruct((self.n_seeds, nb, self.trainers[0].batch_size), jnp.int32,
                                   sharding=self.sharding)
        active = jax.ShapeDtypeStruct((self.n_tasks, self.n_seeds), jnp.bool_)
        self._epoch = self._epoch.lower(abs_states, self.arrays["train"], idx, abs_keys["step"], active).compile()

    # -- the loop's programs ------------------------------------------------------------------
    def _epoch_impl(self, states, x, idx, step_keys, active):
        # states: list over tasks of TrainState [S, ...]; x [S, N, ...]; idx [S, nb, B]; active [M, S].
        running = active.any(axis=1)  # [M]

        def body(sts, idx_b):  # idx_b [S, B]
            clean = jax.vmap(lambda xs, ib: xs[ib])(x, idx_b)  # [S, B, ...]
            new, mets = [], []
            for j, (task, st) in enumerate(zip(self.tasks, sts)):
                def run(st, task=task, unrolled=self.unrolled[j]):
                    if unrolled:  # each seed's own step, one after another: the single run's program
                        seed = lambda tree, s: jax.tree.map(lambda a: a[s], tree)
                        steps = [batch_step(task, seed(st, s), clean[s], seed(step_keys, s))
                                 for s in range(self.n_seeds)]
                        return jax.tree.map(lambda *a: jnp.stack(a), *steps)
                    return jax.vmap(functools.partial(batch_step, task))(st, clean, step_keys)

                def skip(st, run=run):
                    shapes = jax.eval_shape(run, st)[1]
                    return st, jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), shapes)
                st, met = jax.lax.cond(running[j], run, skip, st) if self.n_tasks > 1 else run(st)
                new.append(st)
                mets.append(met)
            return new, mets

        new, mets = scan_steps(body, states, jnp.swapaxes(idx, 0, 1))  # over the nb batches
        new = [select(active[j], n, o) for j, (n, o) in enumerate(zip(new, states))]
        return new, self._flat([jax.tree.map(lambda a: a.mean(axis=0), m) for m in mets])

    def _flat(self, per_task):
        """[{metric: [S]}] over tasks -> {metric: [M * S]} in run order."""
        return {k: jnp.concatenate([m[k] for m in per_task]) for k in per_task[0]}

    def _validate_impl(self, params, x_in, target, keys):
        return self._flat([jax.vmap(functools.partial(tr._eval_impl, constrain=False))(p, x_in, target, keys)
                           for tr, p in zip(self.trainers, params)])

    def epoch(self, state, epoch, active):
        tr = self.trainers[0]
        n = self.arrays["train"].shape[1]
        idx = np.stack([tr.batch_indices(self._host_keys["data"][i], epoch, n) for i in range(self.n_seeds)])
        return self._epoch(state, self.arrays["train"], jax.device_put(idx, self.sharding), self.keys["step"],
                           jnp.asarray(np.reshape(active, (self.n_tasks, self.n_seeds))))

    def validate(self, state):
        return self._validate([st.params for st in state], self.arrays["val_in"], self.arrays["val"],
                              self.keys["eval"])

    def keep_best(self, improved, state, best):
        return self._keep(jnp.asarray(np.reshape(improved, (self.n_tasks, self.n_seeds))), state, best)

    def steps(self, state):
        return jnp.concatenate([st.step for st in state])

    def member(self, state, k):
        j, i = divmod(k, self.n_seeds)
        return jax.tree.map(lambda a: a[i], state[j])

    def set_member(self, state, k, value):
        j, i = divmod(k, self.n_seeds)
        state = list(state)
        state[j] = jax.tree.map(lambda a, v: a.at[i].set(v), state[j], value)
        return jax.device_put(state, self.sharding)

    def member_abstract(self, k):
        j, _ = divmod(k, self.n_seeds)
        abs_state, _ = abstract_init(self.tasks[j], self.example_shape, 0)
        return abs_state

    def view(self, k):
        """(trainer, device arrays, eval key) of run ``k`` alone, for its end-of-training outputs."""
        j, i = divmod(k, self.n_seeds)
        if i not in self._views:
            self._views[i] = {name: jax.device_put(v[i], self.trainers[0].replicated)
                              for name, v in self.host.items()}
        return self.trainers[j], self._views[i], self.keys["eval"][i]
