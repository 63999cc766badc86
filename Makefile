# scratchnet: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test data clean

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -e .
	touch $@

## venv: create the local virtual environment (.venv) from requirements.txt
venv: $(STAMP)

## test: run the test suite (creates the venv on first use)
test: $(STAMP)
	$(PY) -m pytest -q

## data: make sure the three data sets exist (course files, else generated look-alikes)
data: $(STAMP)
	$(PY) -m scratchnet data

## clean: remove what the build made (keeps the venv and the data)
clean:
	rm -rf build report .pytest_cache
	find figures -type f ! -name .gitkeep -delete
