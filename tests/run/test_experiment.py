"""aejax.run.experiment: the experiment protocol: named hooks checked at load time."""
import pytest

from aejax.errors import UserError
from aejax.run import experiment
from helpers import MINIMAL_EXPERIMENT as GOOD
from helpers import write_experiment as _write


def test_every_experiment_loads_and_is_thin():
    for name in experiment.list_names():
        exp = experiment.load(name)
        assert exp.get_config() and exp.doc, name
        lines = len((experiment.experiments_dir() / f"{name}.py").read_text().splitlines())
        assert lines <= 100, f"experiments/{name}.py has {lines} lines: move its logic into its project"


def test_a_misspelt_hook_is_an_error_naming_it(tmp_path):
    assert experiment.load(_write(tmp_path, GOOD)).after_training is None
    bad = GOOD + "\n\ndef after_trainig(**kw):\n    return {}\n"
    with pytest.raises(UserError, match=r"after_trainig\(\) is not an experiment hook \(did you mean after_training\?\)"):
        experiment.load(_write(tmp_path, bad, "bad.py"))


def test_a_hook_with_the_wrong_parameters_is_an_error(tmp_path):
    bad = GOOD + "\n\ndef sweep():\n    return []\n"
    with pytest.raises(UserError, match=r"sweep\(\) must take quick"):
        experiment.load(_write(tmp_path, bad))


def test_without_get_config_is_an_error(tmp_path):
    with pytest.raises(UserError, match="must define get_config"):
        experiment.load(_write(tmp_path, '"""x"""\n'))


def test_hooks_imported_from_a_project_count(tmp_path):
    text = GOOD + "from aejax.projects.tabular import prepare as prepare_data  # noqa: F401\n"
    assert experiment.load(_write(tmp_path, text)).prepare_data is not None
