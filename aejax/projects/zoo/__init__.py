"""What the autoencoder zoo is used for (issue 5): the pieces behind its experiments.

- :mod:`aejax.projects.zoo.zoo`: the zoo's model types by name (``zoo.type``), the
  metrics every zoo run reports, and the tables / figures of the ``ae_zoo`` and
  ``ae_denoising`` sweeps;
- :mod:`aejax.projects.zoo.sparse`: the sparse autoencoder variants (``sparse.variant``)
  and the ``ae_sparse`` sweep's table and figures;
- :mod:`aejax.projects.zoo.generation`: VAE samples, latent traversals, the 2-D manifold
  grid, importance-sampled NLL and active units;
- :mod:`aejax.projects.zoo.anomaly`: train without one class, score by reconstruction
  error, ROC AUC;
- :mod:`aejax.projects.zoo.compression`: reconstruction error against code size and
  bits per code (quantised codes, PCA baseline);
- :mod:`aejax.projects.zoo.sequences`: seismic columns as sequences and the
  mean-trace / PCA baselines of the LSTM autoencoder;
- :mod:`aejax.projects.zoo.figures`: their figures, made from files in the run / sweep directory.
"""
