# One entry point. `make figures` and `make test` set everything up on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= smax,mpe,mamujoco,analysis,dev
# Workflow options shared by `figures`, `report` and `lint`, so that the report shows exactly what the figures were
# made with: SUITE (experiments/suites/<SUITE>.yaml, always wins over a suite in CONFIGFILE), more --config pairs
# in CONFIG (e.g. CONFIG='max_retries=0'), a --configfile in CONFIGFILE, Snakemake's --cores in CORES.
SUITE ?= quick
CONFIG ?=
CONFIGFILE ?=
CORES ?= 8
SNAKEMAKE = PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake
SMK_CONFIG = $(if $(CONFIGFILE),--configfile $(CONFIGFILE) )--config suite=$(SUITE) $(CONFIG)
ifneq ($(filter suite=%,$(CONFIG)),)
$(error give the suite as SUITE=NAME, not in CONFIG)
endif

.PHONY: setup test test-all figures smoke report lint bench gpu-check clean-results

setup: $(VENV)/.installed

# Re-run only when the dependency list changes; `pip install -e` makes code edits live without re-installing.
# --no-compile: pip byte-compiles every file it installs (half of a 2-minute set-up); Python compiles the modules a
# run imports on first import instead (~5 s once).
$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-compile --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e ".[$(EXTRAS)]"
	$(BIN)/python -m pip install --quiet --no-compile --no-deps id-marl-eval==0.0.4 colorcet==3.0.0 colorama==0.4.6  # marl-eval loader (test)
	touch $@

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q

test-all: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -m "not docker"

figures: setup
	$(SNAKEMAKE) --cores $(CORES) figures $(SMK_CONFIG)

# Snakemake's own HTML report (--report), made right after the figures by the same Snakemake run and config.
report: setup
	$(SNAKEMAKE) --cores $(CORES) figures $(SMK_CONFIG) --report results/$(SUITE)/report.html --report-after-run

smoke: setup
	$(MAKE) figures SUITE=smoke

bench: setup
	$(BIN)/marie bench

# On a CUDA machine (needs a CUDA build of torch 2.13.0): CUDA bench + a 3K-step paper-preset SMAX run, < 10 min.
gpu-check: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/gpu_check.sh results/gpu_check

lint: setup
	$(SNAKEMAKE) --lint $(SMK_CONFIG)
	$(BIN)/snakefmt --check Snakefile experiments/rules
