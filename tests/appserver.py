"""Serve app.py for browser tests the way `make run` does (`python -m streamlit run app.py --server.port P
--server.headless true --browser.gatherUsageStats false --server.fileWatcherType none`), on a free port, with the
folders given by environment variables."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(index_dir: Path, content_dir: Path, practice_file: Path, log_path: Path, extra_args=(),
              start_timeout: float = 90):
    """Start the app server and wait until it is healthy; yields (base URL, process, perf_counter at spawn)."""
    port = free_port()
    env = dict(os.environ, MLPREP_INDEX=str(index_dir), MLPREP_CONTENT=str(content_dir),
               MLPREP_PRACTICE=str(practice_file), MLPREP_DATABASE=str(practice_file.with_name("progress.db")))
    log = open(log_path, "w")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false",
                             "--server.fileWatcherType", "none", *extra_args],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"streamlit did not start (exit {proc.poll()}); see {log_path}")
            time.sleep(0.2)
        yield url, proc, started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
