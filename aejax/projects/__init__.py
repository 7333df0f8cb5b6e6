"""One home per seed project: the library code each seed needs beyond the generic engine.

| project | seed | experiments |
| --- | --- | --- |
| :mod:`aejax.projects.course` | 001, the MNIST course | mnist_dense, mnist_conv, mnist_denoise |
| :mod:`aejax.projects.columns` | 000, TGS Salt columns and the bottleneck finder | seismic_columns |
| :mod:`aejax.projects.tabular` | 003, the housing deep autoencoder | housing_deep |
| :mod:`aejax.projects.zoo` | 003, autoencoder types and applications | ae_*, vae_*, lstm_seismic, seismic_anomaly |
| :mod:`aejax.projects.latent` | 002, eigen-analysis of the latent code | latent_spectrum, disentangle_shapes |

A project may use everything below it (data, models, train, run, analysis, report, and
:mod:`aejax.api` to train comparison runs); experiments import their project, never the reverse.
"""
