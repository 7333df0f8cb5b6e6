"""Experiments are Python modules: ``get_config()`` [+ ``quick(cfg)``, ``sweep()``].

``EXPERIMENT`` on the command line is a module name under ``experiments/``
(``mnist_dense``) or a path to a ``.py`` file.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from aejax.errors import UserError

EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"


def experiments_dir() -> Path:
    """The experiments folder: ``$AEJAX_EXPERIMENTS``, ./experiments, or the repository's."""
    import os
    for d in (os.environ.get("AEJAX_EXPERIMENTS"), Path.cwd() / "experiments", EXPERIMENTS_DIR):
        if d and Path(d).is_dir():
            return Path(d)
    return EXPERIMENTS_DIR


def load(name: str) -> ModuleType:
    """Import the experiment module ``name`` (module name or .py path)."""
    path = Path(name)
    if path.suffix != ".py":
        path = experiments_dir() / f"{name}.py"
    if not path.is_file():
        known = ", ".join(list_names()) or "(none)"
        raise UserError(f"experiment {name!r}: no file {path}; known experiments: {known}")
    mod_name = f"aejax_experiment_{path.stem}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise UserError(f"{path}: an experiment module must define get_config()")
    module.NAME = path.stem
    # How config.json names it, for load_run to find the hooks again: the name when it lives in
    # experiments/, else the file's absolute path.
    module.REF = path.stem if path.resolve().parent == experiments_dir().resolve() else str(path.resolve())
    return module


def list_names() -> list[str]:
    """Names of the experiments in the experiments folder."""
    return sorted(p.stem for p in experiments_dir().glob("*.py") if not p.stem.startswith("_"))


def summary_line(name: str) -> str:
    """First line of an experiment's docstring (without importing JAX-heavy code paths)."""
    import ast
    path = experiments_dir() / f"{name}.py"
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
