"""``plt``: matplotlib.pyplot on the Agg backend, imported at its first use.

matplotlib costs ~0.4 s to import, and a run needs it only for its figures, after training:
``from aejax.report.pyplot import plt`` keeps it out of the start-up of ``aejax run``.
"""
from __future__ import annotations


class _Pyplot:
    """Attribute access imports ``matplotlib.pyplot`` (Agg) once and forwards to it."""

    def __getattr__(self, name):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
        return getattr(pyplot, name)


plt = _Pyplot()
