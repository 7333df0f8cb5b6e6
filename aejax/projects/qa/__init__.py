"""Seed 002's other questions and answers (the page beside the latent-eigenvalue question).

| module | question | experiment / script |
| --- | --- | --- |
| :mod:`aejax.projects.qa.rbf` | "Feature vectors in Radial Basis Function Network" (and its 1-D example) | rbf_network |
| :mod:`aejax.projects.qa.op_selection` | "How do I perform a differentiable operation selection?" | op_selection |
| :mod:`aejax.projects.qa.matmul` | "Can a dense layer on many inputs be one matrix multiplication?" | benchmarks/batched_dense.py |
| :mod:`aejax.projects.qa.relu_nan` | the ReLU network whose cost goes NaN | relu_nan |
"""
