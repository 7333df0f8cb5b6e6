"""The main run plus comparison models, each a full run directory under ``RUN/compare/<name>/``.

A comparison is the main config with its ``model`` section replaced by :data:`COMPARISONS`
``[name](model)`` (the same hidden layers and code size, another objective); the config's
``compare`` list names them. :func:`train_with_comparisons` trains the main run, then every
comparison not already finished (a rerun resumes or skips them), each through the standard
pipeline (:func:`aejax.api.train`: training, latent analysis, figures, report).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Mapping, Sequence

from aejax.errors import UserError


def _vae(beta: float) -> Callable[[Mapping], dict]:
    return lambda m: {"name": "vae", "hidden": list(m["hidden"]), "latent_dim": m["latent_dim"],
                      "likelihood": "bernoulli", "beta": beta}


#: name -> the comparison's model section, from the main run's.
COMPARISONS: dict[str, Callable[[Mapping], dict]] = {
    "linear_code": lambda m: {**m, "latent_activation": "linear"},
    "vae": _vae(1.0),
    "beta_vae": _vae(4.0),
    "ae_code5": lambda m: {**m, "latent_dim": 5},
}


def check(cfg: Mapping, allowed: Sequence[str]) -> list[str]:
    """``cfg['compare']``, checked against the names the experiment allows (exit 2 otherwise)."""
    names = cfg.get("compare")
    if not isinstance(names, list) or any(c not in allowed for c in names):
        raise UserError(f"compare={json.dumps(names)}: expected a list of {sorted(allowed)}")
    return names


def train_with_comparisons(cfg: Mapping, workdir, allowed: Sequence[str]) -> tuple[dict, dict]:
    """Train the main run in ``workdir`` and each of ``cfg['compare']`` in ``workdir/compare/<name>``.

    Returns the main run's summary and ``{name: run directory}``, None for a comparison whose
    model is not available in this checkout.
    """
    from aejax import api
    from aejax.models import MODELS
    from aejax.run.rundir import RunDir

    names = check(cfg, allowed)
    workdir = Path(workdir)
    summary = api.train(cfg, workdir)
    variants: dict[str, Path | None] = {}
    for name in names:
        sub_cfg = json.loads(json.dumps(cfg))
        sub_cfg["model"] = COMPARISONS[name](cfg["model"])
        sub_cfg["compare"] = []
        if sub_cfg["model"]["name"] not in MODELS:
            variants[name] = None  # the model is not available in this checkout
            continue
        sub = workdir / "compare" / name
        if not (sub / "summary.json").exists():
            RunDir(sub).prepare(sub_cfg)
            print(f"comparison model {name}: {sub}")
            api.train(sub_cfg, sub)
        variants[name] = sub
    return summary, variants
