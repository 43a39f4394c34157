"""Serve app.py for browser tests the way `make run` does (`python -m streamlit run app.py --server.port P
--server.headless true --browser.gatherUsageStats false --server.fileWatcherType none`), on a free port of
127.0.0.1, with the folders given by environment variables (the launcher is bench/load.py's, shared)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from bench.load import CHROMIUM, CHROMIUM_ARGS, serve

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def serve_app(index_dir: Path, content_dir: Path, practice_file: Path, log_path: Path, extra_args=(),
              start_timeout: float = 90, env_extra: dict | None = None):
    """Start the app server and wait until it is healthy; yields (base URL, process, perf_counter at spawn).
    `env_extra` adds environment variables (MLPREP_SERVED=1 serves it as `make serve` does)."""
    env = dict(os.environ, MLPREP_INDEX=str(index_dir), MLPREP_CONTENT=str(content_dir),
               MLPREP_PRACTICE=str(practice_file), MLPREP_DATABASE=str(practice_file.with_name("progress.db")),
               **(env_extra or {}))
    started = time.perf_counter()
    # MLPREP_APP_SCRIPT serves another copy of the page (e.g. an older one, to see a new test fail on it)
    script = Path(os.environ.get("MLPREP_APP_SCRIPT") or ROOT / "app.py")
    with contextlib.ExitStack() as stack:
        try:
            url, proc = stack.enter_context(serve(script, env, log_path, timeout=start_timeout,
                                                  extra_args=extra_args, cpu=None))
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield url, proc, started
