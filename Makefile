# Two commands do everything (see README): `make demo` and `make test`.
# Both create the virtual environment .venv with the pinned versions of pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-all bench notebooks clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: setup  ## train the course's dense autoencoder on the offline MNIST digits
	$(BIN)/aejax run mnist_dense

test: setup  ## the test suite CI runs (minutes on 2 CPU cores)
	$(BIN)/python -m pytest -q

test-all: setup  ## also the slow tests
	AEJAX_SLOW=1 $(BIN)/python -m pytest -q

notebooks: setup  ## execute notebooks/*.py into results/notebooks/*.ipynb (AEJAX_QUICK=1: the --quick configurations)
	$(BIN)/python notebooks/_execute.py

bench: setup  ## throughput benchmarks (see benchmarks/README.md)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) *.egg-info
