# The two newcomer commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint setup clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# A CPU build of torch first (pip takes it from local wheels where present); a plain
	# `torch` requirement would otherwise pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/livecart demo

test: $(STAMP)
	$(BIN)/python -m pytest --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy livecart ray_jobs validation serving feature_repo

clean:
	rm -rf $(VENV) .livecart
