"""Crash safety: ingest killed with SIGKILL at random moments and at every write step, and failures injected
at every write step, never leave an index that does not load; the next run removes the leftovers. While killed
ingests leave the index older than its content, `python -m index search` keeps answering from it (stale).

The kills need a real process to kill, and 20+ Python start-ups would take most of a minute, so one helper
process imports ingest once and forks a fresh child for every run (`_FORK_SERVER`). Each child rebuilds a copy
of the bank with the fake embedder (no model) after the test changed one file, and is killed part-way.
The folders live on tmpfs when there is one: a SIGKILL does not lose the page cache, so the fsyncs (which guard
against power loss, not process death) only add disk latency here.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import tempfile

import pytest

from conftest import FIXTURE_CONTENT, ROOT, FakeEmbedder
from index import open_index, store
from ingest.build import build
from test_stale_cli import search_json

STEPS = ["vectors-written", "faiss-written", "lexical-written", "files-written", "manifest-written", "synced",
         "version-renamed", "pointer-written", "switched"]
RANDOM_KILLS = 30
STALE_KILLS = 12

# Reads one command per line: "run CONTENT INDEX [STEP]" forks a child that rebuilds INDEX from CONTENT (with
# STEP, the child SIGKILLs itself at that write step) and answers "pid N"; "reap" waits for that child and
# answers "exit STATUS" (the raw wait status). Reaping only on request keeps the pid ours until the test's
# kill has been sent, so a kill can never reach a process that merely reused the number.
_FORK_SERVER = r"""
import os, signal, sys
sys.path[:0] = [sys.argv[1], os.path.join(sys.argv[1], "tests")]
from conftest import FakeEmbedder
from index import store
from ingest.build import build
import faiss, bm25s, Stemmer  # imported before forking, so every child starts at once
child = None
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "run":
        child = os.fork()
        if child == 0:
            if len(cmd) > 3:
                step = cmd[3]
                store._checkpoint = lambda s: os.kill(os.getpid(), signal.SIGKILL) if s == step else None
            try:
                build(cmd[1], cmd[2], embedder=FakeEmbedder())
                code = 0
            except BaseException:
                import traceback; traceback.print_exc()
                code = 1
            os._exit(code)
        print("pid", child, flush=True)
    elif cmd[0] == "reap":
        _, status = os.waitpid(child, 0)
        print("exit", status, flush=True)
"""


class ForkServer:
    def __init__(self, stderr_path: Path):
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self._stderr = open(stderr_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-c", _FORK_SERVER, str(ROOT)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env)

    def _ask(self, line: str) -> list[str]:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        assert answer, "the fork server died; see its stderr"
        return answer

    def start(self, content: Path, index: Path, step: str | None = None) -> int:
        return int(self._ask(f"run {content} {index}" + (f" {step}" if step else ""))[1])

    def reap(self) -> int:
        return int(self._ask("reap")[1])

    def run(self, content: Path, index: Path, kill_after: float | None = None, step: str | None = None) -> str:
        """Run one build; kill it after `kill_after` seconds. Returns "killed" or "finished"."""
        pid = self.start(content, index, step)
        if kill_after is not None:
            time.sleep(kill_after)
            os.kill(pid, signal.SIGKILL)  # still our unreaped child, even if it has already exited
        status = self.reap()
        if os.WIFSIGNALED(status):
            assert os.WTERMSIG(status) == signal.SIGKILL
            return "killed"
        assert os.WEXITSTATUS(status) == 0, "the build failed on its own; see the fork server's stderr"
        return "finished"

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self._stderr.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = ForkServer(tmp_path_factory.mktemp("fork-server") / "stderr")
    yield s
    s.close()


@pytest.fixture
def bank(tmp_path):
    """(content copy of the fixture corpus, index folder built from it in this process), on tmpfs if possible."""
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="crash-", dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path
    content = root / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    index = root / "index"
    build(content, index, embedder=FakeEmbedder())
    yield content, index
    if root != tmp_path:
        shutil.rmtree(root, ignore_errors=True)


def change(content: Path, n: int) -> str:
    """Edit one question (a different one each time) so the next build has something new to embed."""
    files = sorted(content.glob("*.md"))
    path = files[n % len(files)]
    path.write_text(path.read_text(encoding="utf-8") + f"\nRevision {n}: checked by crash test run {n}.\n",
                    encoding="utf-8")
    return path.name


def live_sources(index: Path) -> dict:
    """The content fingerprint the live version was built from, after proving it loads and answers."""
    idx = open_index(index, check_stale=False, embedder=FakeEmbedder())
    result = idx.search("how do I detect overfitting", k=3)
    assert result.hits and result.hits[0].question_id
    return idx.manifest["sources"]


def leftovers(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith((".tmp-", f".{store.CURRENT}.")))


def versions(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith("v-"))


def rebuild_seconds(server: ForkServer, content: Path, index: Path, first: int) -> float:
    """How long one rebuild of a changed bank takes here (median of three), so kills can spread over all of it."""
    durations = []
    for n in range(3):
        change(content, first + n)
        started = time.perf_counter()
        assert server.run(content, index) == "finished"
        durations.append(time.perf_counter() - started)
    return sorted(durations)[1]


def test_sigkill_at_random_moments_leaves_old_or_new_index(server, bank):
    content, index = bank
    duration = rebuild_seconds(server, content, index, 100)
    rng = random.Random(6)
    outcomes = {"old": 0, "new": 0}
    saw_leftovers = 0
    for n in range(1, RANDOM_KILLS + 1):
        old = store.content_fingerprint(content)
        change(content, n)
        new = store.content_fingerprint(content)
        server.run(content, index, kill_after=rng.uniform(0.0, duration))
        sources = live_sources(index)
        assert sources in (old, new), f"kill {n}: the live index is neither the old nor the new content"
        outcomes["old" if sources == old else "new"] += 1
        saw_leftovers += bool(leftovers(index))
        # the next run finishes, serves the new content and removes what the killed one left
        assert server.run(content, index) == "finished"
        assert live_sources(index) == new
        assert leftovers(index) == []
        assert len(versions(index)) <= 2
    print(f"\n{RANDOM_KILLS} SIGKILLs over a {duration * 1000:.0f} ms rebuild: index left at old content "
          f"{outcomes['old']}×, new {outcomes['new']}×; leftovers to clean after {saw_leftovers} kills")
    assert outcomes["old"] > 0, "no kill landed before the switch; the test did not exercise anything"


def test_search_answers_after_every_sigkilled_ingest_of_changed_content(server, bank):
    """Kill after kill with no finished ingest between them: the command line answers every time, stale until a
    version of the current content is published, and the final ingest makes it fresh."""
    content, index = bank
    duration = rebuild_seconds(server, content, index, 200)
    rng = random.Random(15)
    stale_answers = 0
    for n in range(1, STALE_KILLS + 1):
        edited = change(content, 300 + n)
        new = store.content_fingerprint(content)
        server.run(content, index, kill_after=rng.uniform(0.0, duration))
        code, payload, err = search_json(index, query="how do I detect overfitting")
        assert code == 0, f"kill {n}: {err}"
        assert payload["results"], f"kill {n}: no answer"
        published = live_sources(index) == new
        assert payload["stale"] is (not published), f"kill {n}"
        if published:
            assert err == ""
        else:
            stale_answers += 1
            assert err.startswith("warning: ") and edited in err and len(err.strip().splitlines()) == 1
    assert stale_answers > 0, "every kill landed after the switch; the test did not exercise anything"
    assert server.run(content, index) == "finished"
    code, payload, err = search_json(index, query="how do I detect overfitting")
    assert code == 0 and payload["stale"] is False and err == ""
    assert live_sources(index) == store.content_fingerprint(content)
    assert leftovers(index) == [] and len(versions(index)) <= 2
    print(f"\n{STALE_KILLS} SIGKILLs of ingests of changed content: search answered after each, stale "
          f"{stale_answers}x, fresh {STALE_KILLS - stale_answers}x; fresh after the final ingest")


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_at_each_write_step(server, bank, step):
    content, index = bank
    previous = store.current_version(index).name
    old = store.content_fingerprint(content)
    change(content, 1)
    new = store.content_fingerprint(content)
    assert server.run(content, index, step=step) == "killed"
    assert live_sources(index) == (new if step == "switched" else old)
    left = leftovers(index)
    if step in ("vectors-written", "faiss-written", "lexical-written", "files-written", "manifest-written",
                "synced"):
        assert [n for n in left if n.startswith(".tmp-")], "a killed write leaves its temporary folder"
    if step == "pointer-written":
        assert [n for n in left if n.startswith(f".{store.CURRENT}.")], "the new pointer was written beside CURRENT"
    assert server.run(content, index) == "finished"
    assert live_sources(index) == new
    assert leftovers(index) == []
    # the version kept beside the live one is the one readers were using, not a never-switched orphan
    assert versions(index) == sorted({previous, store.current_version(index).name})


class Injected(Exception):
    pass


@pytest.mark.parametrize("step", STEPS)
def test_failure_at_each_write_step(monkeypatch, bank, step):
    content, index = bank
    before = (index / store.CURRENT).read_bytes()
    old = store.content_fingerprint(content)
    change(content, 2)
    new = store.content_fingerprint(content)

    def fail(name):
        if name == step:
            raise Injected(name)

    monkeypatch.setattr(store, "_checkpoint", fail)
    with pytest.raises(Injected):
        build(content, index, embedder=FakeEmbedder())
    if step == "switched":
        assert live_sources(index) == new
    else:
        assert (index / store.CURRENT).read_bytes() == before
        assert live_sources(index) == old
        assert not [n for n in leftovers(index) if n.startswith(".tmp-")], "a failed write removes its own folder"
    monkeypatch.setattr(store, "_checkpoint", lambda name: None)
    report = build(content, index, embedder=FakeEmbedder())
    assert report.version is not None or step == "switched"
    assert live_sources(index) == new
    assert leftovers(index) == []
    assert len(versions(index)) <= 2


def test_every_named_step_is_reached(monkeypatch, bank):
    """The step list above is the write path's: a renamed or removed checkpoint fails here, not silently."""
    content, index = bank
    reached = []
    monkeypatch.setattr(store, "_checkpoint", reached.append)
    change(content, 3)
    build(content, index, embedder=FakeEmbedder())
    assert reached == STEPS


def test_a_reader_during_rebuilds_always_gets_a_whole_index(bank):
    """Readers opening the index while writers switch versions see a complete version every time."""
    content, index = bank
    import threading

    stop = threading.Event()
    errors, opened = [], []

    def read():
        while not stop.is_set():
            try:
                idx = open_index(index, check_stale=False, embedder=FakeEmbedder())
                idx.search("gradient descent", k=2)
                opened.append(idx.version.name)
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(8):
            change(content, 10 + n)
            build(content, index, embedder=FakeEmbedder())
            time.sleep(0.05)
    finally:
        stop.set()
        reader.join()
    assert not errors, "\n".join(errors)
    assert len(set(opened)) >= 2, "the reader never saw a switch"
    assert json.loads((index / versions(index)[-1] / store.MANIFEST).read_text())["format_version"] == store.FORMAT_VERSION
