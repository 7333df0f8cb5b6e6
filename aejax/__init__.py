"""aejax: autoencoders in JAX/Flax -- train, sweep, analyse the latent space.

``aejax.run("mnist_dense", quick=True)`` is the Python form of
``aejax run mnist_dense --quick``.
"""
__version__ = "0.1.0"


def run(*args, **kwargs):
    """Run one experiment (see :func:`aejax.runner.run`)."""
    from aejax.runner import run as _run
    return _run(*args, **kwargs)
