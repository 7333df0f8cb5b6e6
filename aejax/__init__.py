"""aejax: autoencoders in JAX/Flax -- train, sweep, analyse the latent space.

``aejax.run("mnist_dense", quick=True)`` is the Python form of ``aejax run mnist_dense --quick``;
``aejax.sweep``, ``aejax.analyze``, ``aejax.load_run`` and ``aejax.load_sweep`` likewise (see
:mod:`aejax.api`).
The package is imported lazily: ``import aejax`` does not import JAX.
"""
import sys as _sys
import types as _types

__version__ = "0.1.0"


class _CallableRun(_types.ModuleType):
    """The subpackage ``aejax.run``, callable as the function :func:`aejax.run` (``api.run``)."""

    def __call__(self, *args, **kwargs):
        from aejax import api
        return api.run(*args, **kwargs)


class _Package(_types.ModuleType):
    """Importing the subpackage ``aejax.run`` (as ``aejax.api`` does) makes Python bind it as the
    attribute ``aejax.run``, in place of the function below: it is made callable instead, so
    ``aejax.run(...)`` works before and after (and ``aejax.run.engine`` still names the module)."""

    def __setattr__(self, name, value):
        if name == "run" and isinstance(value, _types.ModuleType) and not isinstance(value, _CallableRun):
            value.__class__ = _CallableRun
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def run(*args, **kwargs):
    """Run one experiment (:func:`aejax.api.run`)."""
    from aejax import api
    return api.run(*args, **kwargs)


def sweep(*args, **kwargs):
    """Run an experiment's sweep (:func:`aejax.api.sweep`)."""
    from aejax import api
    return api.sweep(*args, **kwargs)


def analyze(run_dir):
    """The latent analysis of a run directory (:func:`aejax.api.analyze`)."""
    from aejax import api
    return api.analyze(run_dir)


def load_run(run_dir, which: str = "best", **kwargs):
    """A run directory: config, summary, metrics (a DataFrame), figures, analysis, and its data,
    model, parameters and ``encode`` / ``decode`` (:func:`aejax.api.load_run`)."""
    from aejax import api
    return api.load_run(run_dir, which, **kwargs)


def load_sweep(sweep_dir, **kwargs):
    """A sweep directory as a pandas DataFrame, one row per run (:func:`aejax.api.load_sweep`)."""
    from aejax import api
    return api.load_sweep(sweep_dir, **kwargs)


def run_dir(experiment, **kwargs):
    """The run directory ``aejax.run(experiment, ...)`` uses without a workdir (:func:`aejax.api.run_dir`)."""
    from aejax import api
    return api.run_dir(experiment, **kwargs)
