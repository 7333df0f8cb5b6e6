"""Figures and HTML pages, made from the files of a run or sweep directory only.

- :mod:`aejax.report.plots` -- a run's figures (loss curves, originals, codes, reconstructions)
  and a sweep's metric figure;
- :mod:`aejax.report.latent_figures` -- the latent analysis' figures (from ``analysis/*.json``);
- :mod:`aejax.report.html` -- ``report.html`` of a run and of a sweep;
- :mod:`aejax.report.mdhtml` -- the Markdown notes of an analysis as HTML.
"""
