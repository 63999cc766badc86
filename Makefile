# scratchnet: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# JupyterLab lives in a venv of its own: it slows `import nbformat`, so every papermill and
# nbconvert call, in the venv that builds the report.
LAB_VENV := .venv-lab
LAB_STAMP := $(LAB_VENV)/.installed

# The report: every notebooks/NN_slug.ipynb, in the lexical order of its name.
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
EXECUTED := $(patsubst notebooks/%.ipynb,build/notebooks/%.ipynb,$(NOTEBOOKS))
PACKAGE := $(wildcard src/scratchnet/*.py src/scratchnet/*/*.py)
# What a notebook's results depend on: the package, less the module that runs the pipeline.
NOTEBOOK_DEPS := $(filter-out src/scratchnet/report/pipeline.py,$(PACKAGE))
PDF := report/report.pdf
HTML := report/report.html
# QUICK=1 runs every notebook with quick=True (small sizes, to check the pipeline).
QUICK ?= 0
QUICK_FLAG := $(if $(filter 1 yes true True,$(QUICK)),--quick)
PARAMS := build/notebooks/.params
DATA_STAMP := build/data.txt
# Seconds a notebook cell may run in the report and in sweeps (empty: the package's default,
# 1800); a cell over it fails its notebook.
CELL_TIMEOUT ?=
export SCRATCHNET_CELL_TIMEOUT := $(CELL_TIMEOUT)
# The notebooks run side by side on every core unless the command line says otherwise (-j1,
# -j2, ...): each kernel keeps one BLAS thread (see the notebook rule), so N run on N cores.
NPROC := $(shell nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
# MAKEFLAGS shows the command line's -j only inside a recipe, so this is expanded there.
JOBS = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))

.DEFAULT_GOAL := help
.PHONY: help venv test data report notebooks browser lab lab-check bench bench-peers bench-torch sweep clean FORCE
# A recipe that fails leaves no half-written target behind to look up to date.
.DELETE_ON_ERROR:

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

## test: run the test suite (creates the venv on first use; checks report/report.pdf and report.html if built)
test: $(STAMP)
	$(PY) -m pytest -q

## browser: install Debian's chromium for the test that opens report/report.html (playwright is in .venv)
browser:
	@tools/ensure-browser.sh

## data: make sure the three data sets exist (course files, else generated look-alikes)
data: $(STAMP)
	$(PY) -m scratchnet data

## report: run every notebook into build/notebooks/, render report/report.pdf and report/report.html (QUICK=1: small sizes; on every core, -j1: one at a time; CELL_TIMEOUT=s)
report:
	@rm -f $(PDF) $(HTML)
	@tools/ensure-tex.sh
	@rm -rf build/notebooks/failed
	@$(MAKE) --no-print-directory $(JOBS) $(PDF) || { \
	  if ls build/notebooks/failed/*.txt >/dev/null 2>&1; then cat build/notebooks/failed/*.txt; \
	  else echo "error: make report failed (see above); no $(PDF) or $(HTML) was written"; fi; \
	  exit 1; } >&2

## notebooks: only execute the notebooks (into build/notebooks/, on every core), no PDF
notebooks:
	@$(MAKE) --no-print-directory $(JOBS) $(EXECUTED)

# One render writes both: the PDF and the page come from the same merged notebook.
$(PDF) $(HTML) &: $(EXECUTED) templates/scratchnet_report.tex.j2 templates/scratchnet_report.html.j2 $(PACKAGE)
	$(PY) -m scratchnet.report.pipeline render $(PDF) $(EXECUTED) --html $(HTML)

# One rule per notebook, so `make -jN` runs N at once. A notebook runs again when it, the
# package, the data or the QUICK setting changes. Its kernel gets one BLAS thread unless told
# otherwise (OpenBLAS reads OMP_NUM_THREADS; its own OPENBLAS_* variables stay untouched): the
# matrices are small, so one thread is as fast, two kernels side by side do not
# fight over the cores, and the results do not depend on -j.
build/notebooks/%.ipynb: notebooks/%.ipynb $(NOTEBOOK_DEPS) $(PARAMS) $(DATA_STAMP) $(STAMP)
	@OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=$${MKL_NUM_THREADS:-1} \
	  $(PY) -m scratchnet.report.pipeline run $< $@ $(QUICK_FLAG)

# The summary only reads the other notebooks' results JSON, so it runs after all of them.
SUMMARY := $(filter %/28_summary.ipynb,$(EXECUTED))
ifneq ($(SUMMARY),)
$(SUMMARY): $(filter-out $(SUMMARY),$(EXECUTED))
endif

# These two files change only when what they record changes, so they trigger reruns just then.
$(PARAMS): FORCE
	@mkdir -p $(@D)
	@echo 'quick=$(if $(QUICK_FLAG),True,False)' | cmp -s - $@ || \
	  echo 'quick=$(if $(QUICK_FLAG),True,False)' > $@

$(DATA_STAMP): FORCE $(STAMP)
	@mkdir -p $(@D)
	@$(PY) -m scratchnet data > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; cat $@; fi

# The lab's own settings (share/jupyter/lab/settings/overrides.json in its venv) turn off the
# "get notified about Jupyter news?" pop-up of every first start, and the update check.
$(LAB_STAMP): requirements.txt requirements-lab.txt pyproject.toml tools/lab-startup.py tools/lab-overrides.json
	test -x $(LAB_VENV)/bin/python || $(PYTHON) -m venv $(LAB_VENV)
	$(LAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LAB_VENV)/bin/python -m pip install --quiet -r requirements.txt -r requirements-lab.txt -e .
	mkdir -p $(LAB_VENV)/ipython/profile_default/startup $(LAB_VENV)/share/jupyter/lab/settings
	cp tools/lab-startup.py $(LAB_VENV)/ipython/profile_default/startup/00-scratchnet.py
	cp tools/lab-overrides.json $(LAB_VENV)/share/jupyter/lab/settings/overrides.json
	touch $@

## lab: open JupyterLab on notebooks/ (own venv .venv-lab; kernels start in the repo root, like papermill's)
lab: $(LAB_STAMP)
	IPYTHONDIR=$(CURDIR)/$(LAB_VENV)/ipython $(LAB_VENV)/bin/jupyter lab \
	  --ServerApp.root_dir=$(CURDIR)/notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

## lab-check: start JupyterLab as `make lab` does and run a report notebook to the end on its kernel (LAB_CHECK_NOTEBOOK=00_data.ipynb)
LAB_CHECK_NOTEBOOK ?= 00_data.ipynb
lab-check: $(LAB_STAMP) $(DATA_STAMP)
	$(LAB_VENV)/bin/python tools/lab-check.py $(LAB_CHECK_NOTEBOOK)

## bench: samples per second of a training epoch, float32 and float64, against PyTorch and JAX when installed (BENCH_ARGS="--json f.json", or "--as-avx2" for the code paths of an AVX2-only CPU)
bench: $(STAMP)
	$(PY) -m scratchnet bench $(BENCH_ARGS)

## bench-peers: install the bench's peers, PyTorch (CPU build) and JAX, into .venv (pins in requirements-bench.txt)
bench-peers: $(STAMP)
	$(PY) -m pip install --quiet -r requirements-bench.txt

## bench-torch: install only PyTorch (CPU build) into .venv, at the pin of requirements-bench.txt
bench-torch: $(STAMP)
	$(PY) -m pip install --quiet "$$(grep '^torch==' requirements-bench.txt)"

## sweep: run a sweep file, e.g. make sweep SWEEP=sweeps/softmax_lr_batch.yaml (WORKERS=2, SCHEDULER=tcp://...)
sweep: $(STAMP) $(DATA_STAMP)
	@test -n "$(SWEEP)" || { echo "usage: make sweep SWEEP=sweeps/NAME.yaml" >&2; exit 2; }
	$(PY) -m scratchnet sweep $(SWEEP) $(if $(WORKERS),--workers $(WORKERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

## clean: remove what the build made: build/, report/, figures (keeps the venvs and the data)
clean:
	rm -rf build report .pytest_cache
	find figures -type f ! -name .gitkeep -delete
