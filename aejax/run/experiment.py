"""The experiment protocol: a module with ``get_config()`` and optional hooks, each named here.

``EXPERIMENT`` on the command line is a module name under ``experiments/`` (``mnist_dense``) or a
path to a ``.py`` file. :func:`load` imports it and checks it against :data:`HOOKS`: a public
function the protocol does not know (a misspelt hook) is an error naming it, as is a hook whose
signature does not take the documented arguments. Helpers private to the module start with ``_``.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

from aejax.errors import UserError

EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent.parent / "experiments"

#: Every hook an experiment module may define: its required parameters, and what it does.
HOOKS: dict[str, tuple[tuple[str, ...], str]] = {
    "get_config": ((), "() -> dict: the experiment's config (required)"),
    "quick": (("cfg",), "(cfg) -> cfg: the --quick smoke config (default: aejax.run.config.quick_config)"),
    "resolve": (("cfg",), "(cfg) -> cfg: check the experiment's own keys and fill in derived ones; it may "
                          "not change a value given with --set"),
    "sweep": (("quick",), "(quick: bool) -> [{key: value}]: the configurations of `aejax sweep`"),
    "prepare_data": (("ds", "cfg"), "(ds, cfg) -> ds: reshape the loaded dataset (e.g. images -> columns)"),
    "after_training": (("cfg", "workdir", "trainer", "params", "data", "arrays"),
                       "(**kw) -> dict: extra summary fields and files, after the test evaluation"),
    "after_sweep": (("sweep_dir", "configs", "rows"), "(**kw) -> None: sweep-level tables and figures"),
    "run": (("cfg", "workdir"), "(cfg, workdir) -> summary: a pipeline of its own instead of training one model"),
    "search_space": (("trial",), "(trial) -> {key: value}: the overrides of one `aejax tune` trial, from an "
                                 "Optuna trial's suggest_* calls"),
}

#: Module constants the protocol reads (optional).
#: ``GROUP_KEYS``: config keys whose values may differ inside one compiled sweep group
#: (default ``("seed",)`` when ``--set sweep.vectorize_seeds=true``).
CONSTANTS = ("GROUP_KEYS",)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A loaded experiment: its name, how config.json refers to it, and its hooks (None if absent)."""

    name: str
    ref: str                    # config.json's `experiment`: the name, or the file's absolute path
    module: ModuleType
    get_config: Callable[[], dict]
    quick: Callable | None = None
    resolve: Callable | None = None
    sweep: Callable | None = None
    prepare_data: Callable | None = None
    after_training: Callable | None = None
    after_sweep: Callable | None = None
    run: Callable | None = None
    search_space: Callable | None = None
    group_keys: tuple[str, ...] = ()

    @property
    def doc(self) -> str:
        return (self.module.__doc__ or "").strip()


def experiments_dir() -> Path:
    """The experiments folder: ``$AEJAX_EXPERIMENTS``, ./experiments, or the repository's."""
    for d in (os.environ.get("AEJAX_EXPERIMENTS"), Path.cwd() / "experiments", EXPERIMENTS_DIR):
        if d and Path(d).is_dir():
            return Path(d)
    return EXPERIMENTS_DIR


def load(name: str | Experiment) -> Experiment:
    """Import the experiment module ``name`` (module name or .py path) and check its hooks."""
    if isinstance(name, Experiment):
        return name
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
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise UserError(f"{path}:{e.lineno}: the experiment file does not parse ({e.msg})") from None
    except Exception as e:  # noqa: BLE001 - any error while importing the user's file
        raise UserError(f"{path}:{_line_in(e, path)}: the experiment file fails to import "
                        f"({type(e).__name__}: {e})") from None
    hooks = check(module, path)
    ref = path.stem if path.resolve().parent == experiments_dir().resolve() else str(path.resolve())
    return Experiment(name=path.stem, ref=ref, module=module, group_keys=tuple(getattr(module, "GROUP_KEYS", ())),
                      **hooks)


def check(module: ModuleType, path: Path) -> dict[str, Callable]:
    """The module's hooks; a public function that is not a hook, or a hook with the wrong
    parameters, is a :class:`UserError` naming it."""
    hooks: dict[str, Callable] = {}
    for attr, value in vars(module).items():
        if attr.startswith("_") or not callable(value) or isinstance(value, type):
            continue
        own = getattr(value, "__module__", None) == module.__name__
        if attr not in HOOKS and not own:
            continue  # an import under its own name (a hook imported from a project counts)
        if attr not in HOOKS:
            near = difflib.get_close_matches(attr, HOOKS, n=1)
            raise UserError(f"{path}: {attr}() is not an experiment hook"
                            + (f" (did you mean {near[0]}?)" if near else "")
                            + f"; hooks: {', '.join(HOOKS)}. Name private helpers with a leading _")
        params = inspect.signature(value).parameters
        takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        missing = [p for p in HOOKS[attr][0] if p not in params and not takes_kwargs]
        if missing:
            raise UserError(f"{path}: {attr}{inspect.signature(value)} must take {', '.join(missing)}: "
                            f"{attr}{HOOKS[attr][1]}")
        hooks[attr] = value
    if "get_config" not in hooks:
        raise UserError(f"{path}: an experiment module must define get_config()")
    return hooks


def _line_in(exc: BaseException, path: Path) -> int | str:
    """The line of ``path`` in the exception's traceback (the innermost one), or '?'."""
    tb, line = exc.__traceback__, "?"
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == Path(path).resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def call(exp: Experiment, hook: str, *args, **kwargs):
    """Call one of the experiment's config hooks; an error inside it is a :class:`UserError`
    naming the file, the line and the hook."""
    try:
        return getattr(exp, hook)(*args, **kwargs)
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - an error in the user's experiment file
        path = Path(exp.module.__file__)
        raise UserError(f"{path}:{_line_in(e, path)}: {hook}() failed ({type(e).__name__}: {e})") from None


def list_names() -> list[str]:
    """Names of the experiments in the experiments folder."""
    return sorted(p.stem for p in experiments_dir().glob("*.py") if not p.stem.startswith("_"))


def summary_line(name: str) -> str:
    """First line of an experiment's docstring (read without importing it)."""
    path = experiments_dir() / f"{name}.py"
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def describe_hooks() -> str:
    """The protocol as text (for docs and errors)."""
    return "\n".join(f"{name}{sig}" for name, (_, sig) in HOOKS.items())

