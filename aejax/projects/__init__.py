"""One home per seed project: the library code each seed needs beyond the generic engine.

| project | seed | experiments |
| --- | --- | --- |
| :mod:`aejax.projects.course` | 001, the MNIST course | mnist_dense, mnist_conv, mnist_denoise |
| :mod:`aejax.projects.columns` | 000, TGS Salt columns and the bottleneck finder | seismic_columns |
| :mod:`aejax.projects.tabular` | 003, the housing deep autoencoder | housing_deep |
| :mod:`aejax.projects.zoo` | 003, autoencoder types and applications | ae_*, vae_*, lstm_seismic, seismic_anomaly |
| :mod:`aejax.projects.latent` | 002, eigen-analysis of the latent code | latent_spectrum, disentangle_shapes |
| :mod:`aejax.projects.qa` | 002, the other questions beside it | rbf_network, op_selection, relu_nan |
| :mod:`aejax.projects.segmentation` | 002, per-pixel softmax for salt masks | salt_segmentation |
| :mod:`aejax.projects.batchnorm` | 003's batch normalization on 001's models | course_batchnorm |
| :mod:`aejax.projects.search_spaces` | 003's hyperparameter search (``aejax tune``) | housing_deep, mnist_dense |

A project may use everything below it (data, models, train, run, analysis, report, and
:mod:`aejax.api` to train comparison runs); experiments import their project, never the reverse.
"""
