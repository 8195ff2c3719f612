# jacnet: `make run` trains the paper's invertible exp model, `make test` runs the tests.
# Both set up .venv on first use. Override TORCH_SPEC for another torch build, e.g.
#   make test TORCH_SPEC="torch==2.5.1 --index-url https://download.pytorch.org/whl/cpu"

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_WARN_SCRIPT_LOCATION := 1
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast reproduce bench accuracy clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq $(TORCH_SPEC)
	$(BIN)/python -m pip install -qq -e ".[dev]"
	touch $(STAMP)

# Ray (about 320 MB, 50 s to install) is for the tests and for those who ask for it
# (`pip install -e '.[ray]'`): `make run` does not wait for it.
$(RAY_STAMP): $(STAMP)
	$(BIN)/python -m pip install -qq -e ".[dev,ray]"
	touch $(RAY_STAMP)

install: $(STAMP)  ## create .venv with jacnet, its dependencies, the launchers, the search and test tools

run: $(STAMP)  ## train exp with the pd structure (the paper's Figure 1 setup); prints the run directory and what to type next
	$(BIN)/jacnet train target=exp activation=pd
	@echo ""
	@echo "Next: run jacnet yourself, as $(BIN)/jacnet (or: source $(VENV)/bin/activate, then jacnet), e.g."
	@echo "  $(BIN)/jacnet train --help                      # every group, option and key"
	@echo "  $(BIN)/jacnet train target=abs activation=lipschitz seed=3"
	@echo "  $(BIN)/jacnet train data=file data.path=examples/engel.csv data.x=[income] data.y=[foodexp]"

test: $(STAMP) $(RAY_STAMP)  ## run the test suite (adds the Ray launcher to .venv)
	$(BIN)/python -m pytest -q -n 2

test-fast: $(STAMP)  ## the in-process tests only (no child processes, nothing slow)
	$(BIN)/python -m pytest -q -n 2 -m "not subprocess and not slow"

reproduce: $(STAMP)  ## regenerate the paper's figures and tables and the GradNets table into reproduce/
	$(BIN)/python -m jacnet_cli.reproduce.paper
	$(BIN)/python -m jacnet_cli.reproduce.gradnets

bench: $(STAMP)  ## run the integrator benchmarks into benchmarks/suite/RESULTS.md
	$(BIN)/python -m benchmarks.suite.run

accuracy: $(STAMP)  ## accuracy study, jacnet vs UMNN and MLPs on 11 targets x 20 seeds, into benchmarks/accuracy/RESULTS.md (ACCURACY_ARGS=--quick: 2 seeds, exp and abs)
	$(BIN)/python -m pip install -qq -e ".[bench]"
	$(BIN)/python -m benchmarks.accuracy.run $(ACCURACY_ARGS)

clean:  ## remove run outputs and caches (keeps .venv)
	rm -rf outputs multirun .pytest_cache .hypothesis
