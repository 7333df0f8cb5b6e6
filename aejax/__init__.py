"""aejax: autoencoders in JAX/Flax -- train, sweep, analyse the latent space.

``aejax.run("mnist_dense", quick=True)`` is the Python form of ``aejax run mnist_dense --quick``;
``aejax.sweep``, ``aejax.analyze`` and ``aejax.load_run`` likewise (see :mod:`aejax.api`).
The package is imported lazily: ``import aejax`` does not import JAX.
"""
__version__ = "0.1.0"


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


def load_run(run_dir, which: str = "best"):
    """Config, data, model and parameters of a run directory (:func:`aejax.run.builder.load_run`)."""
    from aejax.run import builder
    return builder.load_run(run_dir, which)
