"""The latent-code project (seed 002): "a 100-unit code has ~30 covariance eigenvalues > 0 --
do 30 modes matter, and which neurons?", and disentanglement on data with known factors.

The generic latent analysis of every run lives in :mod:`aejax.analysis` (spectrum, noise floors,
ablation, MIG / SAP / DCI); this package adds what the two experiments need beyond it:

- :mod:`aejax.projects.latent.compare` -- train the main run plus comparison models (a linear
  code, a VAE, a beta-VAE, ...) into ``RUN/compare/<name>/``, each a full run directory;
- :mod:`aejax.projects.latent.answer` -- ``analysis/answer.md`` (the question answered from the
  analysis files) and ``figures/latent_compare.png``: ``experiments/latent_spectrum.py``;
- :mod:`aejax.projects.latent.disentangle` -- ``analysis/disentanglement.md`` (the models side by
  side, with the true-factor and all-zeros references) and ``figures/disentanglement_compare.png``:
  ``experiments/disentangle_shapes.py``.
"""
