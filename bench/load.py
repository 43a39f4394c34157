"""The app as people type, measured at the server: `python -m bench load` (or `.venv/bin/python bench/load.py`).

Three parts, each against servers started here on 127.0.0.1 (nothing else is contacted):
1. typing: the app and a bare Streamlit page with the same search box that only echoes the query (Streamlit's own
   floor; also that page with its heap frozen once, as the app's is) are served side by side; one page on each types the same queries in turn (alternated, so both see the
   same machine), and for each query we take last key -> the end of the run that carries the final query (the
   server's `script_finished` message, read off the page's websocket) and the server's CPU seconds (utime + stime
   from /proc/<pid>/stat) per typed query;
2. load: N sessions type queries into the app for a fixed time, speaking Streamlit's websocket protocol (no
   browsers, so the figures are the server's): last key -> the run that carries the expected top question
   (p50/p95/max), the server's CPU per search, and every error (an exception on the page, a wrong or missing
   answer, a timeout, a dropped connection);
3. soak: more sessions for longer: errors and the server's resident memory over time.

The load generator is kept off the server's CPU: this process (and so Playwright's driver and the one Chromium it
starts for part 1) is pinned to CPU 0, every server to CPU 1. Results go to bench/out/load.json and,
unless --no-write, to the "App as you type" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402 - after the path set-up above
from deploy.trial import TrialError, free_port, stop, streamlit_command, wait_healthy  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SEARCH_BOX = 'input[aria-label="Search the question bank"]'
KEY_DELAY_MS = 60  # between keystrokes: a quick typist, well inside the box's 250 ms commit pause
BARE_PAGE = '''import streamlit as st

q = st.text_input("Search the question bank", key="q", live=True, bind="query-params",
                  placeholder="e.g. how do I detect leakage", label_visibility="collapsed")
st.write(q)
'''
# The same page with its heap frozen once, as the app freezes its own (ui/heap.py): Streamlit's collection after
# every run then skips the loaded modules, which is most of the bare page's CPU. A second floor, for reference.
BARE_FROZEN_PAGE = '''import gc

import streamlit as st


@st.cache_resource
def freeze():
    gc.collect()
    gc.freeze()


freeze()
''' + BARE_PAGE.split("\n", 2)[2]
QUERIES = ["how do I detect leakage", "random forest vs gradient boosting", "precision or recall for fraud",
           "common mistakes with cross validation", "vanishing gradients", "word embeddings",
           "model drift in production", "bias variance tradeoff", "what is regularization", "dropout",
           "supervised vs unsupervised", "classification or regression", "learning rate too high",
           "class imbalance metrics", "attention in transformers", "early stopping", "feature scaling",
           "overfitting example", "roc auc for a manager", "batch normalization"]
SECTION_BEGIN, SECTION_END = "<!-- bench load: begin -->", "<!-- bench load: end -->"


# ---------------------------------------------------------------------------- servers
def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pin(cpu: int) -> None:
    if len(os.sched_getaffinity(0)) > 1 and cpu < os.cpu_count():
        os.sched_setaffinity(0, {cpu})


@contextlib.contextmanager
def serve(script: Path, env: dict, log: Path, timeout: float = 180, extra_args=(), cpu: int | None = 1):
    """A Streamlit server for `script` on 127.0.0.1 (pinned to `cpu` unless None), started the way `make run`
    starts one; yields (url, process) once it answers its health check. Raises RuntimeError if it does not."""
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen(streamlit_command(script, port, extra_args), cwd=script.parent, env=env, stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=None if cpu is None else lambda: pin(cpu))
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(url, proc, timeout, f"streamlit for {script}", log)
        except TrialError as exc:
            raise RuntimeError(str(exc)) from None
        yield url, proc
    finally:
        stop(proc)


# ---------------------------------------------------------------------------- one session, seen on the wire
class Wire:
    """What one page's websocket carried: reruns asked for (with their text values) and runs finished."""

    def __init__(self, page):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._back, self._forward = BackMsg, ForwardMsg
        self.reruns: list[tuple[float, set[str]]] = []
        self.finished: list[float] = []
        self.received: list[tuple[float, int]] = []  # (time, bytes) of every message from the server
        self.closed = 0
        page.on("websocket", self._attach)

    def _attach(self, ws) -> None:
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)
        ws.on("close", lambda _ws: setattr(self, "closed", self.closed + 1))

    def _sent(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = self._back.FromString(payload)
        if msg.WhichOneof("type") == "rerun_script":
            values = {w.string_value for w in msg.rerun_script.widget_states.widgets
                      if w.WhichOneof("value") == "string_value"}
            self.reruns.append((time.monotonic(), values))

    def _received(self, payload) -> None:
        if isinstance(payload, str):
            return
        now = time.monotonic()
        self.received.append((now, len(payload)))
        msg = self._forward.FromString(payload)
        if msg.WhichOneof("type") == "script_finished" and msg.script_finished in (
                self._forward.FINISHED_SUCCESSFULLY, self._forward.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
            self.finished.append(now)

    async def run_done(self, query: str, since: float, timeout: float) -> tuple[float, int, int]:
        """When the first run asked for with `query` (after `since`) finished: (time, messages, bytes) received
        from that request to the end of the run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            asked = next((t for t, values in self.reruns if t >= since and query in values), None)
            if asked is not None:
                done = next((t for t in self.finished if t >= asked), None)
                if done is not None:
                    sent = [n for t, n in self.received if asked <= t <= done]
                    return done, len(sent), sum(sent)
            await asyncio.sleep(0.005)
        raise TimeoutError(f"no finished run for {query!r} within {timeout:.0f} s")


class ProtocolSession:
    """One user as the server sees it, without a browser: Streamlit's own websocket protocol on 127.0.0.1.

    It opens a session (the first page run), then "types" a query the way the page's box commits one: the keys
    take KEY_DELAY_MS each and send nothing, then after the box's 250 ms pause one rerun of the box's fragment
    carries the query. That is the whole cost a typing user puts on the server, with no browser to share a CPU.
    Like the page, it remembers the URL's query string (the server sends it when a bound widget changes it) and
    sends it with every rerun, and it knows every widget of the last runs by its label, so that a caller can set
    one (`rerun(set_text=…, press=…, choose=…)`) as a click or a typed text would.
    """

    PAUSE_S = 0.25  # the box's commit pause (live=True)

    def __init__(self, url: str, headers: dict | None = None):
        self.url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.headers = headers or {}
        self.box_id = self.fragment_id = None
        self.ws = None
        self.page_hash = ""
        self.query_string = ""
        self.widgets: dict[str, tuple[str, str]] = {}  # label -> (widget id, fragment id), as last drawn

    async def open(self, timeout: float = 180, query_string: str | None = None) -> list[bytes]:
        """Connect and run the page once (with `query_string`, else the one remembered); returns that run's
        messages."""
        import websockets

        if query_string is not None:
            self.query_string = query_string
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None,
                                           additional_headers=self.headers, open_timeout=timeout)
        await self._rerun(self.query_string, [], "")
        payloads = await self._until_finished(timeout)
        if self.box_id is None:
            raise RuntimeError("the page has no search box")
        return payloads

    async def _rerun(self, query_string: str, widgets, fragment_id: str) -> None:
        """Ask for a run; `widgets` are (id, text) for text values or (id, field, value) for any other field of
        Streamlit's WidgetState (trigger_value, string_array_value, ...)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = query_string
        state.page_script_hash = self.page_hash
        state.fragment_id = fragment_id
        for widget_id, *value in widgets:
            w = state.widget_states.widgets.add()
            w.id = widget_id
            field, value = ("string_value", value[0]) if len(value) == 1 else value
            if field == "string_array_value":
                w.string_array_value.data.extend(value)
            else:
                setattr(w, field, value)
        await self.ws.send(msg.SerializeToString())

    async def rerun(self, set_text: dict[str, str] | None = None, press: str | None = None,
                    choose: dict[str, str] | None = None, timeout: float = 60) -> list[bytes]:
        """One interaction, as the page sends it: texts typed into boxes (by label), a button pressed (by label),
        options chosen (by label); returns the messages of the run it causes. Raises KeyError for a widget the
        last runs did not draw."""
        widgets, fragments = [], set()
        for label, text in (set_text or {}).items():
            widget_id, fragment = self.widgets[label]
            widgets.append((widget_id, text))
            fragments.add(fragment)
        for label, option in (choose or {}).items():
            widget_id, fragment = self.widgets[label]
            widgets.append((widget_id, "string_array_value", [option]))
            fragments.add(fragment)
        if press is not None:
            widget_id, fragment = self.widgets[press]
            widgets.append((widget_id, "trigger_value", True))
            fragments.add(fragment)
        # a fragment's own widgets rerun only the fragment; anything else reruns the page
        await self._rerun(self.query_string, widgets, fragments.pop() if len(fragments) == 1 else "")
        return await self._until_finished(timeout)

    async def _until_finished(self, timeout: float) -> list[bytes]:
        """The messages of one run, up to its script_finished; raises on an exception element or a timeout."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        payloads, deadline = [], time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - time.monotonic()))
            msg = ForwardMsg.FromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.page_hash = msg.new_session.main_script_hash
            elif kind == "page_info_changed":
                self.query_string = msg.page_info_changed.query_string
            elif kind == "delta":
                payloads.append(raw)
                element = msg.delta.new_element
                if msg.delta.WhichOneof("type") != "new_element":
                    continue
                kind = element.WhichOneof("type")
                if kind == "exception":
                    raise RuntimeError(f"exception on the page: {element.exception.message[:200]}")
                widget = getattr(element, kind)
                if getattr(widget, "id", "") and getattr(widget, "label", ""):
                    self.widgets[widget.label] = (widget.id, msg.delta.fragment_id)
                if kind == "text_input" and self.box_id is None:
                    self.box_id, self.fragment_id = element.text_input.id, msg.delta.fragment_id
            elif kind == "script_finished":
                if msg.script_finished in (ForwardMsg.FINISHED_SUCCESSFULLY,
                                           ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                    return payloads

    async def type_query(self, query: str, expected: str | None, timeout: float = 60) -> dict:
        await asyncio.sleep(len(query) * KEY_DELAY_MS / 1000)
        last_key = time.monotonic()
        await asyncio.sleep(self.PAUSE_S)
        await self._rerun(self.query_string, [(self.box_id, query)], self.fragment_id)
        payloads = await self._until_finished(timeout)
        done = time.monotonic()
        if expected is not None and not any(expected.encode() in p for p in payloads):
            raise RuntimeError(f"the run for {query!r} did not show {expected[:60]!r}")
        return {"last_key": last_key, "run_done_s": done - last_key, "messages": len(payloads)}

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def open_session(browser, url: str, errors: list, name: str, width: int = 1200):
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    wire = Wire(page)
    page.on("pageerror", lambda exc: errors.append(f"{name}: page error: {str(exc)[:200]}"))
    page.on("dialog", lambda d: (errors.append(f"{name}: dialog {d.message!r}"), asyncio.ensure_future(d.dismiss())))
    await page.goto(url + "/", wait_until="domcontentloaded", timeout=120_000)
    await page.locator(SEARCH_BOX).wait_for(timeout=180_000)
    await page.wait_for_timeout(500)
    return context, page, wire


async def type_query(page, wire: Wire, query: str, timeout: float = 60) -> dict:
    """Replace the box's text by typing `query` key by key; last key -> run done, and what the server sent."""
    box = page.locator(SEARCH_BOX)
    await box.click()
    await page.keyboard.press("Control+A")
    since = time.monotonic()
    await page.keyboard.type(query, delay=KEY_DELAY_MS)
    last_key = time.monotonic()
    done, messages, size = await wire.run_done(query, since, timeout)
    return {"last_key": last_key, "run_done_s": done - last_key, "messages": messages, "bytes": size}


# ---------------------------------------------------------------------------- the three parts
async def typing(browser, servers: dict[str, tuple[str, int]], rounds: int) -> dict:
    """Each server's page types the same queries, alternating servers query by query."""
    errors: list[str] = []
    sessions = {name: await open_session(browser, url, errors, name) for name, (url, _) in servers.items()}
    for name, (_, page, wire) in sessions.items():  # warm: the first search loads what the page needs
        await type_query(page, wire, "warm up the model")
    runs = {name: [] for name in servers}
    cpu = {name: 0.0 for name in servers}
    queries = [QUERIES[i % len(QUERIES)] for i in range(rounds)]
    for i, query in enumerate(queries):
        order = list(servers) if i % 2 == 0 else list(reversed(servers))
        for name in order:
            _, page, wire = sessions[name]
            pid = servers[name][1]
            before = cpu_seconds(pid)
            runs[name].append(await type_query(page, wire, query))
            await page.wait_for_timeout(700)  # let the server settle, so its CPU is this query's
            cpu[name] += cpu_seconds(pid) - before
    for context, _, _ in sessions.values():
        await context.close()
    out = {}
    for name, rs in runs.items():
        done = [r["run_done_s"] * 1000 for r in rs]
        out[name] = {"queries": len(rs), "run_done_p50_ms": percentile(done, 50),
                     "run_done_p95_ms": percentile(done, 95),
                     "run_done_max_ms": max(done), "cpu_ms_per_query": cpu[name] / len(rs) * 1000,
                     "messages_per_query": sum(r["messages"] for r in rs) / len(rs),
                     "kb_per_query": sum(r["bytes"] for r in rs) / len(rs) / 1024}
    out["errors"] = errors
    return out


async def concurrent(url: str, pid: int, sessions: int, seconds: float, expected: dict[str, str],
                     think_s: float) -> dict:
    """`sessions` users type into the app at once for `seconds` (Streamlit's protocol, no browsers): last key ->
    the run that carries the results, every error, the server's CPU per search and its memory over time."""
    from ui.render import escape_md

    errors: list[str] = []
    users = [ProtocolSession(url) for _ in range(sessions)]
    await asyncio.gather(*(u.open() for u in users))
    latencies, rss, count = [], [(0.0, rss_mib(pid))], [0]
    started = time.monotonic()
    cpu_before = cpu_seconds(pid)
    until = started + seconds

    async def user(n: int, session: ProtocolSession) -> None:
        rng = random.Random(n)
        i = n
        while time.monotonic() < until:
            query = QUERIES[i % len(QUERIES)]
            i += 1
            try:
                r = await session.type_query(query, escape_md(expected[query]))
                latencies.append(r["run_done_s"])
                count[0] += 1
            except Exception as exc:  # noqa: BLE001 - a search that never came back is the finding
                errors.append(f"session {n}, {query!r}: {type(exc).__name__}: {str(exc)[:160]}")
                return
            await asyncio.sleep(think_s * (0.5 + rng.random()))

    async def sample_memory() -> None:
        while time.monotonic() < until:
            await asyncio.sleep(min(15.0, max(1.0, seconds / 20)))
            rss.append((time.monotonic() - started, rss_mib(pid)))

    await asyncio.gather(sample_memory(), *(user(n, u) for n, u in enumerate(users)))
    cpu = cpu_seconds(pid) - cpu_before
    for u in users:
        await u.close()
    ms = lambda p: None if not latencies else round(percentile(latencies, p) * 1000)  # noqa: E731
    return {"sessions": sessions, "seconds": round(time.monotonic() - started, 1), "searches": count[0],
            "results_p50_ms": ms(50), "results_p95_ms": ms(95), "results_max_ms": ms(100),
            "server_cpu_s_per_search": cpu / max(1, count[0]), "errors": errors,
            "rss_mib": [(round(t), round(m, 1)) for t, m in rss]}


# ---------------------------------------------------------------------------- report
def table(result: dict) -> str:
    lines = [SECTION_BEGIN, "## App as you type (`python -m bench load`)", "",
             f"Measured {result['when']} by `bench/load.py` on {result['cpus']} CPUs (load average "
             f"{result['load_before']} before, {result['load_after']} after). Clients on CPU 0 (one Chromium with a page "
             "per server for typing; Streamlit's own websocket protocol for the sessions), servers on CPU 1; the "
             "typing part alternates the pages query by query.", ""]
    typing_ = result.get("typing")
    if typing_:
        bare = typing_["bare"]
        lines += ["| page | typed queries | last key → run done p50 | p95 | max | server CPU per typed query "
                  "| messages / KB per query |", "|---|---|---|---|---|---|---|"]
        for name, r in typing_.items():
            if name == "errors":
                continue
            lines.append(f"| {name} | {r['queries']} | {r['run_done_p50_ms']:.0f} ms "
                         f"({r['run_done_p50_ms'] / bare['run_done_p50_ms']:.2f}×) | {r['run_done_p95_ms']:.0f} ms "
                         f"| {r['run_done_max_ms']:.0f} ms | {r['cpu_ms_per_query']:.0f} ms "
                         f"({r['cpu_ms_per_query'] / max(bare['cpu_ms_per_query'], 1e-9):.2f}×) "
                         f"| {r['messages_per_query']:.0f} / {r['kb_per_query']:.1f} |")
        lines += ["", "Ratios are to `bare`. Targets: run done p50 ≤ 1.2× the bare page's, CPU per typed query ≤ 1.3× "
                  "the bare page's. `bare-frozen` is the bare page with its heap frozen once, as the app's is "
                  "(`ui/heap.py`): Streamlit's collection after each run then skips what was loaded.", ""]
    rows = [(k, result[k]) for k in ("load", "soak") if result.get(k)]
    if rows:
        lines += ["| run | sessions × seconds | searches | last key → results p50 / p95 / max "
                  "| server CPU per search | errors | server RSS (MiB) first → last |",
                  "|---|---|---|---|---|---|---|"]
        for name, r in rows:
            first, last = r["rss_mib"][0][1], r["rss_mib"][-1][1]
            lines.append(f"| {name} | {r['sessions']} × {r['seconds']:.0f} | {r['searches']} "
                         f"| {r['results_p50_ms']} / {r['results_p95_ms']} / {r['results_max_ms']} ms "
                         f"| {r['server_cpu_s_per_search'] * 1000:.0f} ms | {len(r['errors'])} "
                         f"| {first:.0f} → {last:.0f} (max {max(m for _, m in r['rss_mib']):.0f}) |")
        lines += ["", "Targets: 8 sessions p95 ≤ 1.5 s (last key → results) and no error; 20 sessions × 5 min no "
                  "error and memory flat. Raw figures (memory samples, every error): `bench/out/load.json`."]
    lines.append(SECTION_END)
    return "\n".join(lines)


def write_section(path: Path, text: str, begin: str = SECTION_BEGIN, end: str = SECTION_END) -> None:
    """Replace a benchmark's own section of BENCHMARKS.md, between its `begin` and `end` markers (or append it);
    the rest of the file is left alone."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new, encoding="utf-8")


def expected_titles(index_dir: Path) -> dict[str, str]:
    """The top question the library gives for each load query (what a session waits to see on screen)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from index import open_index

    idx = open_index(index_dir, check_stale=False)
    return {q: idx.search(q, k=20).groups[0].question for q in QUERIES}


async def run(args, work: Path) -> dict:
    from playwright.async_api import async_playwright

    index_dir = Path(args.index).resolve()
    env = dict(os.environ, HF_HUB_OFFLINE="1", MLPREP_INDEX=str(index_dir), MLPREP_CONTENT=str(Path(args.content).resolve()),
               MLPREP_PRACTICE=str(work / "practice.json"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    bare = work / "bare" / "bare_page.py"
    bare.parent.mkdir()
    bare.write_text(BARE_PAGE, encoding="utf-8")
    frozen = work / "bare-frozen" / "bare_page.py"
    frozen.parent.mkdir()
    frozen.write_text(BARE_FROZEN_PAGE, encoding="utf-8")
    apps = {"bare": bare, "bare-frozen": frozen, **{name: Path(p).resolve() for name, p in args.app}}
    result: dict = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
                    "load_before": round(os.getloadavg()[0], 1)}
    expected = expected_titles(index_dir) if not args.typing_only else {}
    with contextlib.ExitStack() as stack:
        servers = {name: (url, proc.pid) for name, path in apps.items()
                   for url, proc in [stack.enter_context(serve(path, env, work / f"{name}.log"))]}
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                if args.rounds:
                    result["typing"] = await typing(browser, servers, args.rounds)
                    print(json.dumps(result["typing"], indent=1), flush=True)
                if not args.typing_only:
                    url, pid = servers[args.app[0][0]]
                    if args.sessions:
                        result["load"] = await concurrent(url, pid, args.sessions, args.seconds, expected, args.think)
                        print(json.dumps(result["load"], indent=1), flush=True)
                    if args.soak_sessions:
                        result["soak"] = await concurrent(url, pid, args.soak_sessions, args.soak_seconds, expected,
                                                          args.think)
                        print(json.dumps(result["soak"], indent=1), flush=True)
            finally:
                await browser.close()
    result["load_after"] = round(os.getloadavg()[0], 1)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default=os.environ.get("MLPREP_INDEX") or ROOT / "build" / "index")
    parser.add_argument("--content", default=os.environ.get("MLPREP_CONTENT") or ROOT / "content")
    parser.add_argument("--app", nargs=2, action="append", metavar=("NAME", "PATH"),
                        help="a page to measure (repeatable; default: app app.py); each is compared with the bare page")
    parser.add_argument("--rounds", type=int, default=30, help="typed queries per page in the typing part (0: skip)")
    parser.add_argument("--sessions", type=int, default=8, help="concurrent sessions in the load part (0: skip)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--soak-sessions", type=int, default=20, help="sessions in the soak part (0: skip)")
    parser.add_argument("--soak-seconds", type=float, default=300)
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between one session's queries (s)")
    parser.add_argument("--typing-only", action="store_true", help="only the typing part")
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    args.app = args.app or [("app", str(ROOT / "app.py"))]
    if not CHROMIUM.exists():
        print("bench load: Debian's chromium is needed at /usr/bin/chromium (apt-get install -y chromium)",
              file=sys.stderr)
        return 1
    if not (Path(args.index) / "CURRENT").exists():
        print(f"bench load: no index at {args.index}; build it first with `make index` or pass --index",
              file=sys.stderr)
        return 1
    pin(0)  # this process, Playwright's driver and Chromium: off the servers' CPU
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(result, indent=1))
    text = table(result)
    print(text)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
