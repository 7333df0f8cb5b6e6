"""Latent-space analysis on plain numpy arrays.

Every function here takes codes ``z`` as an ``[N, D]`` array (N examples, D
latent units) and returns numpy arrays or JSON-able dicts; nothing imports JAX.

Modules:

- :mod:`aejax.analysis.spectrum`: the package's one PCA (``pca``: covariance or
  Gram form, whichever is smaller; tested against scikit-learn's), the
  covariance eigen-spectrum of the codes, the number of modes needed for
  90/95/99 % of the variance, participation ratio, noise floors (shuffle /
  Marchenko-Pastur / untrained encoder) and the PCA baseline on the raw data.
- :mod:`aejax.analysis.regression`: R² of scikit-learn linear regressions on
  codes, inputs and PCA components (the tabular project).
- :mod:`aejax.analysis.importance`: per-unit variance, active units, ablation
  importance (replace a unit by its mean, decode, measure the loss increase).
- :mod:`aejax.analysis.subspace`: principal angles, linear CKA, CCA and the
  agreement of top-k code subspaces across seeds.
- :mod:`aejax.analysis.disentangle`: MIG, SAP and DCI against known factors.

Import the submodule you need; this package re-exports nothing so that
importing it stays cheap (scikit-learn is imported only by ``disentangle`` and, when
called, ``regression``).
"""
