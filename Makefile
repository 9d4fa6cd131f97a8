# One entry point. `make figures` and `make test` set everything up on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= smax,mpe,mamujoco,analysis,dev

.PHONY: setup test test-all figures smoke report lint bench clean-results

setup: $(VENV)/.installed

# Re-run only when the dependency list changes; `pip install -e` makes code edits live without re-installing.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	$(BIN)/python -m pip install --quiet --no-deps id-marl-eval==0.0.4 colorcet==3.0.0 colorama==0.4.6  # marl-eval loader (test)
	touch $@

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q

test-all: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -m "not docker"

figures: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores 8 figures

report: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores 8 report

smoke: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores 8 figures --config suite=smoke

bench: setup
	$(BIN)/marie bench

lint: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile experiments/rules
