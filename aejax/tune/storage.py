"""The study's storage and settings: storage URLs, the study (created or loaded), samplers,
pruners, the search space's probe and the tune directory's marker."""
from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import optuna

from aejax.errors import UserError
from aejax.run import experiment as experiment_lib
from aejax.run.resolve import resolve_config
from aejax.run.rundir import check_folder_path, claim_folder
from aejax.run.sweep import assignments

TUNE_MARKER = ".aejax-tune"
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")


def store_url(tune_dir: Path) -> str:
    """The default storage: a journal file in the tune directory."""
    return f"journal:{Path(tune_dir) / 'study.journal'}"


def _journal(url: str) -> bool:
    return url.startswith("journal:") or (("://" not in url) and url.endswith((".journal", ".log")))


def storage_file(url: str | None) -> Path | None:
    """The local file a ``--storage`` URL names (a journal or an SQLite database), else None; a URL
    of no known form, or a file whose folder cannot be made, is refused (exit 2)."""
    if url is None:
        return None
    if _journal(url):
        path = Path(url[len("journal:"):] if url.startswith("journal:") else url)
    elif "://" not in url:
        raise UserError(f"--storage {url!r}: expected sqlite:///PATH, postgresql://..., mysql://..., "
                        "journal:PATH or a .journal file")
    elif url.startswith("sqlite:///") and url[len("sqlite:///"):] not in ("", ":memory:"):
        path = Path(url[len("sqlite:///"):])
    else:
        return None
    if path.is_dir():
        raise UserError(f"--storage {redact(url)}: {path} is a folder, not a file")
    check_folder_path(path.parent, "--storage")
    return path


def open_storage(url: str | None, tune_dir: Path):
    """An Optuna storage from ``--storage``: ``journal:PATH`` (or a path ending .journal / .log), an
    SQLAlchemy URL (``sqlite:///PATH``, ``postgresql://...``, ``mysql://...``), or None (default)."""
    url = url or store_url(tune_dir)
    path = storage_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if _journal(url):
        from optuna.storages.journal import JournalFileBackend, JournalStorage
        return JournalStorage(JournalFileBackend(str(path)))
    kwargs = {}
    if url.startswith("sqlite:///"):
        kwargs = {"connect_args": {"timeout": 60}}  # wait for another worker's write, not fail
    else:
        kwargs = {"pool_pre_ping": True}
    for attempt in range(6):  # workers creating the tables of a new database at once collide: retry
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except Exception as e:  # noqa: BLE001 - sqlalchemy's errors; the last one is reported
            racing = any(m in str(e) for m in ("already exists", "locked", "UNIQUE constraint", "Duplicate"))
            if attempt == 5 or not racing:
                raise UserError(f"--storage {redact(url)}: cannot open it ({type(e).__name__}: "
                                f"{str(e).splitlines()[0]})") from None
            time.sleep(0.5 + attempt)


def redact(url: str) -> str:
    """A storage URL without its password (``user:***@host``)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def open_study(name, store, sampler, pruner, base: dict) -> optuna.Study:
    """Create the study or load it (``load_if_exists``); a study made for another experiment,
    ``--quick`` or ``--set`` is refused, naming the difference."""
    st = optuna.create_study(study_name=name, storage=store, sampler=sampler, pruner=pruner,
                             direction="minimize", load_if_exists=True)
    old = st.user_attrs.get("aejax")
    if old is None:
        st.set_user_attr("aejax", base)
    elif old != base:
        diff = [f"{k}: {json.dumps(old.get(k))} there, {json.dumps(base[k])} here"
                for k in base if old.get(k) != base[k]]
        raise UserError(f"study {name!r} was made for another setup ({'; '.join(diff)}); give another --study "
                        "or --workdir, or the same arguments")
    if st.direction != optuna.study.StudyDirection.MINIMIZE:
        raise UserError(f"study {name!r} maximises; aejax tune minimises val/loss: give another --study")
    return st


def probe(exp, base: list[str], quick: bool) -> dict:
    """Call ``search_space`` on a throw-away trial: it must return a dict of config keys that
    resolve (exit 2 otherwise); returns the distributions it asked for."""
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    sets = overrides_of(exp, trial)
    resolve_config(exp, base + assignments(sets), quick)
    return dict(trial.distributions)


def overrides_of(exp, trial) -> dict:
    sets = experiment_lib.call(exp, "search_space", trial)
    if not isinstance(sets, dict) or not sets or not all(isinstance(k, str) for k in sets):
        raise UserError(f"{exp.module.__file__}: search_space() returned {type(sets).__name__}, not a "
                        "non-empty {config key: value} dict")
    return sets


def sampler_named(name: str, distributions: dict):
    if name == "tpe":  # constant_liar: running trials count as bad, so concurrent workers spread out
        return optuna.samplers.TPESampler(constant_liar=True)
    if name == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.GridSampler(grid(distributions))


def grid(distributions: dict) -> dict:
    """``--sampler grid``'s grid: every choice of a categorical, every integer of an int range
    (its step), 3 points of a float range without a step (geometric on a log scale)."""
    out = {}
    for name, d in distributions.items():
        if isinstance(d, optuna.distributions.CategoricalDistribution):
            out[name] = list(d.choices)
        elif isinstance(d, optuna.distributions.IntDistribution):
            out[name] = list(range(d.low, d.high + 1, d.step))
        elif d.step is not None:
            out[name] = [d.low + i * d.step for i in range(int(round((d.high - d.low) / d.step)) + 1)]
        elif d.log:
            out[name] = [d.low, math.sqrt(d.low * d.high), d.high]
        else:
            out[name] = [d.low, (d.low + d.high) / 2, d.high]
    return out


def pruner_named(pruner, epochs: int):
    if not isinstance(pruner, str):
        return pruner
    if pruner == "median":
        return optuna.pruners.MedianPruner()
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    if pruner == "none":
        return optuna.pruners.NopPruner()
    raise UserError(f"--pruner {pruner!r}: expected one of {', '.join(PRUNERS)}")


def claim(tune_dir: Path) -> None:
    """Create (or recognise) a tune directory; a non-empty folder that is not one is refused."""
    claim_folder(tune_dir, TUNE_MARKER, "tune")