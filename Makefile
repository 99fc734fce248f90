# make reproduce [PROFILE=quick|paper|smoke] [DATA=/path/to/data] [DOWNLOAD=1]   execute every notebook, build the book
# make test                                                        ruff, the wings' import contract, unit/property tests + smoke notebooks
# make book                                                        render the already executed notebooks (+ book/_build/wsm-book.zip)
# make bench [BENCH=--full]                                       benchmarks -> book/benchmarks/<machine>.csv + projection.csv
# make study                                                       the zoo-size study (resumable) -> book/scaling/study.csv
# Both main targets create or update the local environment (.venv) first.

PROFILE ?= quick
DATA ?= $(abspath ../shared/data)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXECUTED := book/executed

export WSM_DATA := $(DATA)
ifdef DOWNLOAD
export WSM_DOWNLOAD := $(DOWNLOAD)
endif

.PHONY: env reproduce book test bench study clean

env: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

reproduce: env
	$(PY) -m wsm.book.reproduce --profile $(PROFILE) --out $(EXECUTED)
	$(MAKE) --no-print-directory book

book: env
	@test -f $(EXECUTED)/results/results.csv || { echo "error: no executed notebooks in $(EXECUTED): run 'make reproduce' first" >&2; exit 2; }
	$(PY) -m wsm.book.frontpage $(EXECUTED)
	$(PY) -m wsm.book.performance book --out $(EXECUTED)
	$(VENV)/bin/jupyter-book build book --warningiserror --nitpick --keep-going --quiet
	@if $(PY) -c "import sys, wsm.book.bookcheck as b; sys.exit(not b.chromium_available())"; then \
	  $(PY) -m wsm.book.bookcheck book/_build/html --book book --screenshots book/_build/screenshots; \
	else echo "note: no chromium/chromium-driver, so the book was not checked in a browser (apt-get install chromium chromium-driver)"; fi
	$(PY) -m wsm.book.bookzip book/_build/html book/_build/wsm-book.zip
	@echo "book: $(abspath book/_build/html/index.html)"

test: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q

bench: env
	$(PY) -m bench.run $(BENCH)
	$(PY) -m bench.projection

study: env
	$(PY) -m wsm.book.study

clean:
	rm -rf book/_build $(EXECUTED)
