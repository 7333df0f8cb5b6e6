"""The pure, jit-compiled pieces: train state, objective, train step, epoch, evaluation.

Python is not in the hot loop: an epoch is one compiled ``lax.scan`` over
batches gathered on the device from arrays that already live there; only the
epoch's batch indices ([nb, B] int32) go in. Randomness is explicit: the
epoch's shuffle from (data key, epoch), each step's noise / sampling from
``fold_in(step_key, step)``, so a resumed run draws exactly what an
uninterrupted one would.

Data parallelism (``Trainer``): with a one-axis mesh the dataset is replicated
and each batch is constrained to be split over the ``data`` axis, so XLA's SPMD
partitioner turns the same program into a data-parallel one (gradients are
all-reduced). The ``pmap`` strategy gives the same numbers the explicit way:
every device gathers the global batch, takes its slice, and ``pmean``s grads.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from aejax.models import losses
from aejax.models.common import RUNNING, with_running_stats
from aejax.models.convolutions import loop_body_convolutions

AXIS = "data"


@flax.struct.dataclass
class TrainState:
    """Everything that changes during training (checkpointed as one pytree)."""

    step: jax.Array  # int32 scalar
    params: Any
    opt_state: Any


@dataclasses.dataclass(frozen=True)
class Task:
    """The static description of what is trained (hashable; closed over by jit)."""

    model: Any                      # flax module with encode / decode / __call__
    tx: optax.GradientTransformation
    loss: str = "mse"
    noise_std: float = 0.0          # denoising: input = clip(x + noise_std * N(0, 1), 0, 1)

    def objective(self, params, x_in, target, key, step=None):
        """Per-example loss [B] and per-example metrics {name: [B]}.

        A model with a ``loss_terms`` method (VAE, sparse AE, ...) defines its own
        objective; otherwise the loss is ``losses.<loss>(model(x_in), target)``.
        ``step`` (the optimizer step, an int32 scalar during training, None at
        evaluation) is passed on to a ``loss_terms`` that takes a ``step`` keyword
        (e.g. KL annealing); other models never see it.
        """
        if hasattr(self.model, "loss_terms"):
            extra = {"step": step} if step is not None and _takes_step(self.model) else {}
            return self.model.apply({"params": params}, x_in, target, key=key, loss=self.loss,
                                    method="loss_terms", **extra)
        recon = self.model.apply({"params": params}, x_in)
        per_example = losses.loss_fn(self.loss)(recon, target)  # [B]
        return per_example, {"loss": per_example, "mse": losses.mse(recon, target),
                             "psnr": losses.psnr(recon, target)}

    def train_objective(self, params, x_in, target, key, step):
        """:meth:`objective` at a training step -> (per-example loss, metrics, running averages):
        a model with batch normalization (``norm='batch'``) runs in training mode and returns the
        running averages it updated (:data:`aejax.models.common.RUNNING`); others return {}."""
        if getattr(self.model, "norm", "none") != "batch":
            return (*self.objective(params, x_in, target, key, step=step), {})
        recon, updated = self.model.apply({"params": params}, x_in, train=True, mutable=[RUNNING])
        per_example = losses.loss_fn(self.loss)(recon, target)  # [B]
        return per_example, {"loss": per_example, "mse": losses.mse(recon, target),
                             "psnr": losses.psnr(recon, target)}, updated[RUNNING]

    def corrupt(self, x, key):
        """The model's input for clean examples ``x`` (noisy when denoising)."""
        if self.noise_std <= 0:
            return x
        return jnp.clip(x + self.noise_std * jax.random.normal(key, x.shape, x.dtype), 0.0, 1.0)


def _takes_step(model) -> bool:
    """Whether ``model.loss_terms`` accepts a ``step`` keyword."""
    import inspect
    return "step" in inspect.signature(type(model).loss_terms).parameters


KEY_NAMES = ("data", "step", "eval")


#: Compiler options for programs that run once (initialisation): XLA's lowest optimisation level
#: halves their compile time (mostly the threefry generator) and gives the same numbers.
RUN_ONCE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def init_program(task: Task, example_shape):
    """``seed -> (state, keys)``: the function :func:`init_state` compiles (vmapped over seeds by
    the vectorised trainers)."""
    def init(seed):
        # One root key, split per purpose: parameters, shuffling, per-step noise, evaluation.
        init_key, *others = jax.random.split(jax.random.key(seed), 1 + len(KEY_NAMES))
        params = task.model.init(init_key, jnp.zeros((1, *example_shape), jnp.float32))["params"]
        state = TrainState(jnp.zeros((), jnp.int32), params, task.tx.init(params))
        return state, dict(zip(KEY_NAMES, others))
    return init


def abstract_init(task: Task, example_shape, seed: int):
    """Shapes / dtypes of (state, keys) without running anything (milliseconds)."""
    return jax.eval_shape(init_program(task, example_shape), jnp.uint32(seed))


def init_state(task: Task, example_shape, seed: int):
    """Initialise (state, keys) from the seed in one jit-compiled program.

    The program runs once, so it is compiled at XLA's lowest optimisation
    level: this halves its compile time (mostly the threefry generator) and
    gives the same numbers.
    """
    compiled = jax.jit(init_program(task, example_shape)).lower(jnp.uint32(seed)).compile(
        compiler_options=RUN_ONCE)
    return compiled(jnp.uint32(seed))


def scan_steps(body, state, xs):
    """``jax.lax.scan(body, state, xs)`` for an epoch of training steps: every scanned epoch (one run,
    pmap, a vectorised group) goes through here, traced in
    :func:`~aejax.models.convolutions.loop_body_convolutions` so that convolutions keep fast gradients
    inside the loop on CPU."""
    with loop_body_convolutions():
        return jax.lax.scan(body, state, xs)


def batch_step(task: Task, state: TrainState, clean, step_key):
    """:func:`train_step` on a batch of clean examples by the engine's key rule: the step's key is
    ``fold_in(step_key, state.step)``, the input ``corrupt(clean, fold_in(key, 1))``, the target ``clean``."""
    key = jax.random.fold_in(step_key, state.step)
    x_in = task.corrupt(clean, jax.random.fold_in(key, 1))
    return train_step(task, state, x_in, clean, key)


def train_step(task: Task, state: TrainState, x_in, target, key, axis_name: str | None = None):
    """One optimizer step on one batch. x_in, target: [B, ...]. -> (state, {metric: scalar}).

    The loss is the batch mean of the per-example loss; under ``pmap``
    (``axis_name`` set) gradients and metrics are averaged over devices.
    """
    def loss_fn(params):
        per_example, metrics, running = task.train_objective(params, x_in, target, key, step=state.step)
        return per_example.mean(), (metrics, running)

    (_, (metrics, running)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    metrics = {k: v.mean() for k, v in metrics.items()}
    if axis_name is not None:  # batch norm's statistics too: the devices' mean is the global batch's
        grads, metrics, running = jax.lax.pmean((grads, metrics, running), axis_name)
    updates, opt_state = task.tx.update(grads, state.opt_state, state.params)
    params = with_running_stats(optax.apply_updates(state.params, updates), running)
    return TrainState(state.step + 1, params, opt_state), metrics


@dataclasses.dataclass
class Trainer:
    """Compiled epoch / evaluation / prediction functions for one task and device set.

    Each is traced once however many epochs run (tests assert it with ``chex.assert_max_traces``).
    """

    task: Task
    batch_size: int
    eval_batch_size: int = 1000
    strategy: str = "mesh"          # "mesh" or "pmap"
    devices: Any = None             # default: all devices
    scan_epoch: bool = True         # False: a Python loop over one jitted step (mesh only)

    def __post_init__(self):
        self.devices = list(self.devices or jax.devices())
        self.n_dev = len(self.devices)
        if self.strategy == "pmap" and any(d.process_index != jax.process_index() for d in self.devices):
            raise ValueError("train.strategy='pmap' runs on one host; a run over many processes uses "
                             "train.strategy='mesh' (the default)")
        if self.batch_size % self.n_dev:
            raise ValueError(f"train.batch_size={self.batch_size} must be a multiple of the "
                             f"{self.n_dev} devices")
        if self.eval_batch_size % self.n_dev:
            self.eval_batch_size += self.n_dev - self.eval_batch_size % self.n_dev
        self.mesh = Mesh(np.array(self.devices), (AXIS,))
        self.replicated = NamedSharding(self.mesh, P())
        self.batch_sharding = NamedSharding(self.mesh, P(AXIS))
        if self.strategy == "mesh":
            self._epoch = jax.jit(self._epoch_mesh, donate_argnums=0)
            self._step = jax.jit(self._step_mesh, donate_argnums=0)
        elif self.strategy == "pmap":
            self._epoch = jax.pmap(self._epoch_pmap, axis_name=AXIS, in_axes=(0, None, None, None),
                                   devices=self.devices, donate_argnums=0)
        else:
            raise ValueError(f"train.strategy={self.strategy!r}: expected 'mesh' or 'pmap'")
        self._eval = jax.jit(self._eval_impl)
        self._predict = jax.jit(self._predict_impl, static_argnames="method")

    # -- placement ---------------------------------------------------------------------
    def put(self, tree):
        """Put host (or local) arrays on the devices, replicated: every device holds the dataset.

        With many processes every process passes the same values and places them on its own
        devices (random keys as their raw data); each device then computes its slice of a batch."""
        return jax.tree.map(lambda a: replicate(a, self.replicated), tree)

    def put_state(self, state: TrainState) -> TrainState:
        """Place a state for training (replicated; stacked per device under pmap)."""
        if self.strategy == "pmap":
            return jax.tree.map(lambda a: jax.device_put(
                jnp.broadcast_to(a, (self.n_dev, *a.shape)), self.batch_sharding), state)
        return self.put(state)

    def get_state(self, state: TrainState) -> TrainState:
        """The single (unstacked) state, whatever the strategy."""
        return jax.tree.map(lambda a: a[0], state) if self.strategy == "pmap" else state

    # -- one epoch -----------------------------------------------------------------------
    def batch_indices(self, data_key, epoch: int, n: int) -> np.ndarray:
        """The epoch's shuffled batches as example indices, int32 [nb, B], made on the host.

        numpy's generator seeded with (the data key's words, epoch): deterministic,
        the same on every backend, and it keeps threefry and a sort out of the
        compiled epoch (30 % less compile time). The ragged last batch is dropped.
        """
        words = np.asarray(jax.random.key_data(data_key)).ravel().tolist()
        perm = np.random.default_rng([*words, epoch]).permutation(n)
        nb = n // self.batch_size
        return perm[: nb * self.batch_size].reshape(nb, self.batch_size).astype(np.int32)

    def _step_mesh(self, state, x, idx_b, step_key):
        clean = jax.lax.with_sharding_constraint(x[idx_b], self.batch_sharding)  # [B, ...]
        return batch_step(self.task, state, clean, step_key)

    def _epoch_mesh(self, state, x, idx, step_key):
        state, metrics = scan_steps(lambda s, i: self._step_mesh(s, x, i, step_key), state, idx)
        return state, jax.tree.map(jnp.mean, metrics)

    def _epoch_steps(self, state, x, idx, step_key):
        """The epoch as a Python loop over the jitted step (XLA:CPU runs small convolutions ~3x
        slower inside a scan's loop). No host sync; the host's work per step is one dispatch: the
        batches' indices go to the devices in one transfer, the metrics are averaged once at the
        end (as the scan's are). idx: host int32 [nb, B]."""
        metrics = []
        for idx_b in jax.device_put(list(idx), self.replicated):  # one call; same rows on every process
            state, m = self._step(state, x, idx_b, step_key)
            metrics.append(m)
        return state, _mean_of_steps(metrics)

    def _epoch_pmap(self, state, x, idx, step_key):
        local = self.batch_size // self.n_dev
        dev = jax.lax.axis_index(AXIS)

        def body(state, idx_b):
            clean = x[idx_b]  # [B, ...] the global batch, as on one device
            key = jax.random.fold_in(step_key, state.step)
            x_in = self.task.corrupt(clean, jax.random.fold_in(key, 1))
            mine = lambda a: jax.lax.dynamic_slice_in_dim(a, dev * local, local)  # [B/n, ...]
            # Sampling inside the objective (VAEs) must differ between the shards.
            return train_step(self.task, state, mine(x_in), mine(clean), jax.random.fold_in(key, dev),
                              axis_name=AXIS)

        state, metrics = scan_steps(body, state, idx)
        return state, jax.tree.map(jnp.mean, metrics)

    def epoch(self, state, x, data_key, step_key, epoch: int):
        """Run one epoch; returns (state, {metric: mean over the epoch's steps}) on device."""
        idx = self.batch_indices(data_key, epoch, x.shape[0])
        if self.strategy == "mesh" and not self.scan_epoch:
            return self._epoch_steps(state, x, idx, step_key)
        idx = replicate(idx, self.replicated) if self.strategy == "mesh" else idx
        state, metrics = self._epoch(state, x, idx, step_key)
        if self.strategy == "pmap":
            metrics = jax.tree.map(lambda a: a[0], metrics)
        return state, metrics

    def compile_epoch(self, state, x, data_key, step_key) -> None:
        """Compile the epoch ahead of time from abstract or concrete arguments.

        With :meth:`abstract` arguments this runs while the parameters are being
        initialised (XLA compiles in C++ without the GIL), halving start-up.
        """
        if self.strategy == "mesh" and not self.scan_epoch:
            idx_b = jax.ShapeDtypeStruct((self.batch_size,), jnp.int32, sharding=self.replicated)
            self._step = self._step.lower(state, x, idx_b, step_key).compile()
        elif self.strategy == "mesh":
            nb = x.shape[0] // self.batch_size
            idx = jax.ShapeDtypeStruct((nb, self.batch_size), jnp.int32, sharding=self.replicated)
            self._epoch = self._epoch.lower(state, x, idx, step_key).compile()

    def abstract(self, tree):
        """ShapeDtypeStructs of ``tree`` carrying the sharding :meth:`put_state` gives."""
        if self.strategy == "pmap":
            return tree
        return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=self.replicated), tree)

    # -- evaluation ----------------------------------------------------------------------
    def _padded(self, *arrays):
        n = arrays[0].shape[0]
        bs = self.eval_batch_size
        nb = -(-n // bs)
        out = [jnp.pad(a, [(0, nb * bs - n)] + [(0, 0)] * (a.ndim - 1)).reshape(nb, bs, *a.shape[1:])
               for a in arrays]  # each [nb, bs, ...]
        mask = (jnp.arange(nb * bs) < n).reshape(nb, bs)
        return out, mask

    def _eval_impl(self, params, x_in, target, key, constrain: bool = True):
        """Mean over all examples of each per-example metric: a scan over padded batches, the
        padding masked out. ``constrain``: shard each batch over the mesh (False under vmap)."""
        (xs, ts), mask = self._padded(x_in, target)

        def body(sums, batch):
            xb, tb, mb = batch
            if constrain:
                xb = jax.lax.with_sharding_constraint(xb, self.batch_sharding)
            _, metrics = self.task.objective(params, xb, tb, key)
            return jax.tree.map(lambda s, m: s + jnp.sum(jnp.where(mb, m, 0.0)), sums, metrics), None

        zeros = jax.tree.map(lambda m: jnp.zeros((), jnp.float32),
                             jax.eval_shape(lambda: self.task.objective(params, xs[0], ts[0], key)[1]))
        sums, _ = jax.lax.scan(body, zeros, (xs, ts, mask))
        return jax.tree.map(lambda s: s / x_in.shape[0], sums)

    def evaluate(self, params, x_in, target, key):
        """Mean over all examples of each per-example metric (padded, masked batches)."""
        return self._eval(params, x_in, target, key)

    def _predict_impl(self, params, x, method):
        (xs,), _ = self._padded(x)

        def body(_, xb):
            return None, self.task.model.apply({"params": params}, xb, method=method)

        _, out = jax.lax.scan(body, None, xs)
        return jax.tree.map(lambda o: o.reshape(-1, *o.shape[2:])[: x.shape[0]], out)

    def predict(self, params, x, method: str = "__call__"):
        """The model's ``method`` (encode / decode / __call__) on all of ``x``, batched."""
        return self._predict(params, x, method=method)


@jax.jit
def _mean_of_steps(metrics: list):
    """[{name: scalar}] per step -> {name: mean over the steps} (one program, like the scan's mean)."""
    return jax.tree.map(lambda *v: jnp.mean(jnp.stack(v)), *metrics)


def replicate(a, sharding: NamedSharding):
    """``a`` (numpy, a local array or a random key) as a global array replicated over ``sharding``'s
    devices; with many processes each places it on its own devices (the same value everywhere)."""
    if jax.dtypes.issubdtype(getattr(a, "dtype", None), jax.dtypes.prng_key):
        return jax.random.wrap_key_data(replicate(jax.random.key_data(a), sharding), impl=jax.random.key_impl(a))
    if jax.process_count() > 1:
        a = np.asarray(local(a))
    return jax.device_put(a, sharding)


def local(a):
    """An array this process can read: a replicated global array's local copy (a no-op otherwise)."""
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        if not a.is_fully_replicated:
            raise ValueError("a sharded array spanning other processes cannot be read here")
        return a.addressable_data(0)
    return a


def fetch(tree) -> Any:
    """A pytree of (possibly global, replicated) device arrays as numpy arrays (one sync)."""
    return jax.tree.map(np.asarray, jax.device_get(jax.tree.map(local, tree)))


def host(tree) -> Any:
    """Fetch a pytree of device arrays as numpy / Python floats (one sync)."""
    return jax.tree.map(lambda a: a.item() if np.ndim(a) == 0 else a, fetch(tree))


