"""A class on several app processes: `make class`'s layout (deploy/trial.py: PostgreSQL, app processes, nginx with
sticky sessions) under bench/classroom.py's simulated students, one process killed half-way.

Runs in `make test-class`, not in `make test`: it starts a PostgreSQL server, two app processes and nginx and
drives them for 40 s, about a minute and a half in all (more on a loaded machine).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from bench import classroom
from bench.load import CHROMIUM, CHROMIUM_ARGS, SEARCH_BOX, expected_titles
from deploy.trial import NGINX, class_trial, nginx_config

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.class_trial


def _needs_the_servers():
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("the class trial needs PostgreSQL's initdb and pg_ctl on PATH")
    if not Path(NGINX).exists():
        pytest.skip(f"the class trial needs nginx at {NGINX} (apt-get install nginx)")


@pytest.fixture
def folder():
    """A folder PostgreSQL's own user can reach when the tests run as root (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="class-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_no_acknowledged_review_is_lost_and_reconnected_students_keep_their_progress(real_index, folder):
    _needs_the_servers()
    out = folder / "classroom.json"
    assert classroom.main(["--index", str(real_index), "--apps", "2", "--students", "6", "--seconds", "40",
                           "--kill-at", "20", "--think", "1", "--no-write", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    reviews = result["reviews"]
    assert reviews["acknowledged"] >= 6, result  # every student rated something
    assert reviews["lost"] == 0 and reviews["recorded_beyond_sent"] == 0, result
    for student in result["per_student"]:
        assert student["acknowledged"] <= student["recorded"] <= student["sent"], student
    assert result["killed"]["connections"] >= 1, result
    assert result["reconnected_students"] >= 1, result
    assert result["kept_progress"] == result["reconnected_students"], result
    assert set(result["errors"]) == {"disconnected"}, result["error_examples"]
    assert result["errors"]["disconnected"] == result["reconnected_students"], result
    for action in ("search", "answer check", "rating"):
        assert result["actions"][action]["count"] > 0, result["actions"]


def test_the_trial_serves_through_nginx_with_a_routing_cookie_and_stops_everything(real_index, folder):
    """Also, in a real browser: the page works through nginx, and when its process is killed it reconnects (to the
    other one) and answers the next search."""
    _needs_the_servers()
    expected = expected_titles(real_index)
    with class_trial(2, folder, real_index, ROOT / "content") as trial:
        if CHROMIUM.exists():
            _browser_survives_a_kill(trial, expected)
        with urllib.request.urlopen(trial.url + "/", timeout=30) as r:
            cookies = r.headers.get_all("Set-Cookie") or []
        assert any(c.startswith("mlprep_route=") and "HttpOnly" in c for c in cookies), cookies
        # a browser that has the cookie is not given another one
        request = urllib.request.Request(trial.url + "/", headers={"Cookie": cookies[0].split(";", 1)[0]})
        with urllib.request.urlopen(request, timeout=30) as r:
            assert not any(c.startswith("mlprep_route=") for c in r.headers.get_all("Set-Cookie") or [])
        processes = [trial.nginx] + [a.proc for a in trial.apps if a.proc.poll() is None]
        data = folder / "postgres" / "data"
        assert (data / "postmaster.pid").exists()
        for app in trial.apps:  # loopback only
            assert f"--server.address 127.0.0.1 " in " ".join(app.proc.args) + " "
            assert app.env["MLPREP_SERVED"] == "1" and app.env["MLPREP_DATABASE_URL"] == trial.database_url
        assert len({a.env["STREAMLIT_SERVER_COOKIE_SECRET"] for a in trial.apps}) == 1
    assert all(p.poll() is not None for p in processes)
    deadline = time.monotonic() + 10
    while (data / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (data / "postmaster.pid").exists(), "PostgreSQL is still running"


def _browser_survives_a_kill(trial, expected: dict) -> None:
    from playwright.sync_api import sync_playwright

    first, second = "how do I detect leakage", "vanishing gradients"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(trial.url + "/", wait_until="domcontentloaded", timeout=120_000)
            page.locator(SEARCH_BOX).fill(first)
            page.get_by_text(expected[first], exact=False).first.wait_for(timeout=120_000)
            serving = [a for a in trial.apps if classroom.connections_to(a.port)]
            assert len(serving) == 1, "the page's websocket should reach exactly one process"
            os.kill(serving[0].proc.pid, signal.SIGKILL)
            serving[0].proc.wait()
            other = next(a for a in trial.apps if a is not serving[0])
            deadline = time.monotonic() + 60  # the page notices the drop and reconnects through nginx on its own
            while not classroom.connections_to(other.port) and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert classroom.connections_to(other.port) == 1, "the page did not reconnect to the other process"
            # the page reruns itself on the new process first; a query typed during that rerun is dropped by the
            # page (seen here: no results until the next key), so a student who pauses is what this checks
            page.wait_for_timeout(5000)
            page.locator(SEARCH_BOX).fill(second)
            page.get_by_text(expected[second], exact=False).first.wait_for(timeout=120_000)
        finally:
            browser.close()


def test_the_host_site_and_the_trial_share_the_sticky_upstream_and_the_proxy_settings(tmp_path):
    site = (ROOT / "deploy" / "nginx" / "mlprep-site.conf").read_text()
    trial = nginx_config(8500, [8601, 8602], tmp_path)
    for text in (site, trial):
        assert "hash $mlprep_route consistent;" in text
        assert "mlprep-http.conf;" in text and "mlprep-proxy.conf;" in text
    assert "listen 127.0.0.1:8500;" in trial and "listen 8500" not in trial
    proxy = (ROOT / "deploy" / "nginx" / "mlprep-proxy.conf").read_text()
    assert "location = /_stcore/stream" in proxy and "proxy_set_header Upgrade $http_upgrade;" in proxy
    if Path(NGINX).exists():  # nginx itself accepts the trial's whole configuration
        (tmp_path / "temp").mkdir()
        (tmp_path / "nginx.conf").write_text(trial)
        check = subprocess.run([NGINX, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                                "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
