"""The bottleneck finder: column auto-associative networks and the smallest code that still classifies.

The TGS Salt "auto-associative network" notebook (``shared/seeds/000_*.txt``)
cuts 101x101 seismic images into 101x1 columns (one trace each), trains
Dense(m, ReLU) -> Dense(101, linear) to reproduce them, and looks at the
rebuilt images: "if you can no longer recognize (classify) the output, then
probably neither can a deep learning algorithm, and so m is probably too
small". This package makes that test quantitative.

- :mod:`aejax.projects.columns.columns` -- image splits -> column splits (split by
  image, centred on the training mean column) and back to images;
- :mod:`aejax.projects.columns.classifier` -- a salt / no-salt (or digit) classifier
  trained on original images that scores rebuilt ones;
- :mod:`aejax.projects.columns.evaluate` -- per-run numbers (PCA at the same m,
  classifier accuracies, dead code units) and the recommendation rule;
- :mod:`aejax.projects.columns.figures` -- run and sweep figures, read from files;
- :mod:`aejax.projects.columns.recommend` -- the recommended m and the sweep's summary;
- :mod:`aejax.projects.columns.pipeline` -- the experiment's hooks: config checks,
  images -> columns, the per-run outputs and the sweep summary.

The experiment that uses all of it is ``experiments/seismic_columns.py``; its sweep
trains every (m, seed) model in one compiled program (its ``GROUP_KEYS``).
"""
