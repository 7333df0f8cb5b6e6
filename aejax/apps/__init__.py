"""What the autoencoder zoo is used for (issue 5): the pieces behind its experiments.

- :mod:`aejax.apps.zoo`: the zoo's model types by name (``zoo.type``) and the
  metrics every zoo run reports;
- :mod:`aejax.apps.generation`: VAE samples, latent traversals, the 2-D manifold
  grid, importance-sampled NLL and active units;
- :mod:`aejax.apps.anomaly`: train without one class, score by reconstruction
  error, ROC AUC;
- :mod:`aejax.apps.compression`: reconstruction error against code size and
  bits per code (quantised codes, PCA baseline);
- :mod:`aejax.apps.sequences`: seismic columns as sequences and the
  mean-trace / PCA baselines of the LSTM autoencoder;
- :mod:`aejax.apps.figures`: their figures, made from files in the run / sweep directory.
"""
