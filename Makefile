# Quick start: `make run` (app) and `make test` (every test). See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.requirements.stamp
INDEX  ?= build/index
PORT   ?= 8501
PYTEST_ARGS ?=

.PHONY: run test index venv eval bench clean

venv: $(STAMP)

# (Re)install when requirements.txt changes; torch==2.13.0 comes from this machine's disk.
$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

# Incremental: embeds only what changed, writes nothing when the index is fresh.
index: venv
	$(BIN)/python -m ingest --index $(INDEX)

run: index
	$(BIN)/python -m streamlit run app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf build .pytest_cache
