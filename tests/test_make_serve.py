"""`make run` listens on this computer only; `make serve` is the explicit way to serve others (served mode).

Each target's Streamlit command is taken from `make -n` (what make would run), started on a free port, and the
listening sockets are read with `ss -ltn` once its health check answers. No session is opened, so no index or model
is loaded: only the address the server binds is under test."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bench.load import free_port

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not (shutil.which("make") and shutil.which("ss")), reason="needs make and ss")


def streamlit_line(*make_args: str, env: dict | None = None) -> str:
    out = subprocess.run(["make", "-n", *make_args], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=env).stdout
    lines = [line for line in out.splitlines() if "-m streamlit run app.py" in line]
    assert len(lines) == 1, out
    return lines[0]


def listening(line: str, port: int, tmp_path: Path) -> set[str]:
    """Start `line` (a shell command), wait for its health check, and return the local addresses bound to `port`."""
    env = dict(os.environ, MLPREP_DATABASE=str(tmp_path / "progress.db"))
    with open(tmp_path / "server.log", "w") as log:
        proc = subprocess.Popen(["sh", "-c", line], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
        out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
        return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_make_run_listens_on_loopback_only(tmp_path):
    port = free_port()
    line = streamlit_line("run", f"PORT={port}")
    assert "--server.address 127.0.0.1" in line and "MLPREP_SERVED" not in line
    assert listening(line, port, tmp_path) == {"127.0.0.1"}


def test_make_serve_is_served_mode_on_the_address_asked_for(tmp_path):
    port = free_port()
    line = streamlit_line("serve", "HOST=0.0.0.0", f"PORT={port}")
    assert "MLPREP_SERVED=1" in line and "--client.showErrorDetails none" in line
    assert listening(line, port, tmp_path) == {"0.0.0.0"}
    assert "--server.address 127.0.0.1 " in streamlit_line("serve"), "even make serve is loopback unless HOST is given"
    exported = streamlit_line("serve", env=dict(os.environ, HOST="0.0.0.0"))
    assert "--server.address 127.0.0.1 " in exported, "a HOST exported by the shell is not a choice to serve others"
