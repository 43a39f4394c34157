"""A class of simulated students against several app processes behind nginx: `python -m bench class`
(make class-load).

It starts the class the way `make class` does (deploy/trial.py: a PostgreSQL of its own, N app processes, nginx on
127.0.0.1; nothing else is contacted), warms every process, then lets S students work for T seconds. Each student
opens the page through nginx (and so gets nginx's routing cookie, which keeps it on one process), signs in (a new
learner: name, passphrase, confirmation; the page's sign-in cookie kept as a browser keeps it), and then, in
turns: types a search or two key by key (bench/load.py's ProtocolSession: Streamlit's own websocket protocol, no
browser), goes to Practice, writes an answer and checks it, reveals the model answer and rates it.
Half-way through, one app process is killed (SIGKILL) and not restarted: its students see their connection drop,
reconnect through nginx (which sends them to another process) with their cookies and carry on; each of them
first checks that the page signed them in again and still shows their progress (how many questions they have
practised).

Measured: per action (search: last key -> the run that shows the expected top question; answer check: press ->
the run with the check's result; rating: press -> the run that says the review was recorded) p50 / p95 / max;
reconnections (drop noticed -> page back); every error by kind; and, per student, the ratings sent, acknowledged
by the page and found in PostgreSQL afterwards. A review is lost when the page acknowledged it and the database
does not have it. Results go to bench/out/classroom.json and, unless --no-write, to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import re
import secrets
import signal
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.load import QUERIES, ProtocolSession, expected_titles, write_section  # noqa: E402
from bench.stats import percentile  # noqa: E402
from deploy.trial import TrialError, class_trial  # noqa: E402

ACTIONS = ("search", "answer check", "rating")
RATING_WEIGHTS = {"Again": 2, "Hard": 3, "Good": 4, "Easy": 1}
PRACTISED = re.compile(rb"(\d+) not practised yet")
SIGN_IN_COOKIE = "mlprep_sign_in"  # ui/views/sign_in.py's cookie, set by the page's script
SIGN_IN_TOKEN = re.compile(SIGN_IN_COOKIE.encode() + rb"=([A-Za-z0-9_-]{20,100});")
SECTION_BEGIN, SECTION_END = "<!-- bench class: begin -->", "<!-- bench class: end -->"


class Disconnected(Exception):
    """The student's websocket closed under it (its app process went away)."""


@dataclass
class Student:
    """One simulated student: who, where (nginx's routing cookie), and what they sent and were told."""

    n: int
    learner: str
    passphrase: str = ""
    cookie: str = ""  # nginx's routing cookie
    token: str = ""  # the sign-in cookie's value
    session: ProtocolSession | None = None
    view: str = "Search"
    sent: int = 0  # rating presses sent
    acknowledged: int = 0  # ... whose run said "Recorded"
    sent_questions: set = field(default_factory=set)
    acknowledged_questions: set = field(default_factory=set)
    reconnects: int = 0
    progress_checks: list = field(default_factory=list)  # (practised shown, acknowledged distinct, sent distinct)


@dataclass
class Run:
    """What every student did, shared by their tasks."""

    base_url: str
    bank: dict  # escaped title -> (question id, the answer a student writes)
    expected: dict  # query -> escaped expected top title
    until: float
    served: bool
    think_s: float
    times: dict = field(default_factory=lambda: {a: [] for a in ("sign-in", *ACTIONS, "reconnect")})
    errors: collections.Counter = field(default_factory=collections.Counter)
    examples: dict = field(default_factory=dict)  # kind -> first message of that kind

    def error(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        self.examples.setdefault(kind, message[:300])


def escaped(text: str) -> str:
    from ui.render import escape_md

    return escape_md(text)


def the_bank(index_dir: Path) -> dict:
    """escaped title -> (question id, a student's answer: the first two sentences of its short answer)."""
    from index import open_index

    idx = open_index(index_dir, check_stale=False)
    bank = {}
    for q in idx.questions:
        short = next((s.text for s in idx.question(q.id).sections if s.key == "short"), q.title)
        answer = " ".join(re.split(r"(?<=[.!?])\s+", short.strip())[:2])
        bank[escaped(q.title)] = (q.id, answer)
    return bank


def routing_cookie(base_url: str) -> str:
    """The page's first request, as a browser makes it: nginx answers with its routing cookie."""
    with urllib.request.urlopen(base_url + "/", timeout=30) as r:
        r.read()
        for header in r.headers.get_all("Set-Cookie") or []:
            if header.startswith("mlprep_route="):
                return header.split(";", 1)[0]
    raise RuntimeError("nginx set no mlprep_route cookie: is deploy/nginx/mlprep-http.conf included?")


# ---------------------------------------------------------------------------- one student's actions
async def connect(run: Run, student: Student, timeout: float = 60) -> None:
    """Open the page through nginx with the student's cookies, as a browser (re)opens it: the routing cookie, and
    on a served class the sign-in cookie the page's script set, which signs the page in again on any process
    (a new student signs in, or creates their learner, with the form). Without served mode the learner is named
    in the URL."""
    if not student.cookie:
        student.cookie = await asyncio.to_thread(routing_cookie, run.base_url)
    cookies = student.cookie + (f"; {SIGN_IN_COOKIE}={student.token}" if student.token else "")
    session = ProtocolSession(run.base_url, headers={"Cookie": cookies})
    query = "" if student.session is None else student.session.query_string
    if not run.served and "learner=" not in query:
        query = f"learner={student.learner}"
    payloads = await session.open(timeout, query_string=query)
    student.session, student.view = session, view_of(query)
    if run.served and not signed_in(student, payloads):
        if student.token:
            run.error("signed out by the reconnection", f"student {student.n}: the sign-in cookie did not sign "
                      "the page in again")
        await sign_in(run, student, timeout)


def view_of(query_string: str) -> str:
    return "Practice" if "view=Practice" in query_string else "Search"


def signed_in(student: Student, payloads: list[bytes]) -> bool:
    return any(f"Signed in as **{escaped(student.learner)}**".encode() in p for p in payloads)


async def sign_in(run: Run, student: Student, timeout: float) -> None:
    """The sidebar's form: name and passphrase; a new name is confirmed once (it creates the learner). Keeps the
    token the page's script would put in the browser's cookie. Raises RuntimeError when it does not sign in."""
    session, fields = student.session, {"Name": student.learner, "Passphrase": student.passphrase}
    started = time.monotonic()
    payloads = await session.rerun(set_text=fields, press="Sign in", timeout=timeout)
    if not signed_in(student, payloads) and "Confirm the new passphrase" in session.widgets:
        payloads = await session.rerun(set_text={**fields, "Confirm the new passphrase": student.passphrase},
                                       press="Create learner and sign in", timeout=timeout)
    token = next((m.group(1).decode() for p in payloads if (m := SIGN_IN_TOKEN.search(p))), None)
    if not signed_in(student, payloads) or token is None:
        raise RuntimeError(f"signing in as {student.learner} failed")
    run.times["sign-in"].append(time.monotonic() - started)
    student.token = token


async def choose_view(student: Student, view: str) -> list[bytes]:
    payloads = []
    if student.view != view:
        payloads = await student.session.rerun(choose={"View": view})
        student.view = view
    return payloads


async def search(run: Run, student: Student, rng: random.Random) -> None:
    await choose_view(student, "Search")
    query = rng.choice(QUERIES)
    result = await student.session.type_query(query, run.expected[query])
    run.times["search"].append(result["run_done_s"])


def current_question(run: Run, payloads: list[bytes]) -> tuple[str, str, str] | None:
    """(escaped title, question id, answer) of the question the Practice run drew, if any."""
    for title, (qid, answer) in run.bank.items():
        if any(b"### " + title.encode() in p for p in payloads):
            return title, qid, answer
    return None


def practised(payloads: list[bytes]) -> int | None:
    for p in payloads:
        if m := PRACTISED.search(p):
            return int(m.group(1))
    return None


async def practise(run: Run, student: Student, rng: random.Random, bank_size: int) -> None:
    """Practice: the plan's question, an answer written and checked, the model answer, a rating."""
    session = student.session
    payloads = await choose_view(student, "Practice")
    if not payloads:  # already there: the question on screen is the one after the last rating
        payloads = await session.rerun()
    shown = current_question(run, payloads)
    if shown is None:
        run.error("no question", f"student {student.n}: the Practice view drew no question of the bank")
        return
    title, qid, answer = shown
    await asyncio.sleep(run.think_s * (1 + rng.random()))  # writing the answer
    started = time.monotonic()
    payloads = await session.rerun(set_text={"Your answer": answer}, press="Check my answer")
    if not any(b"Coverage " in p for p in payloads):
        run.error("no check result", f"student {student.n}: checking an answer to {qid} showed no coverage")
        return
    run.times["answer check"].append(time.monotonic() - started)
    await asyncio.sleep(run.think_s * (0.5 + rng.random()))  # reading the result
    await session.rerun(press="Show the model answer")
    await asyncio.sleep(run.think_s * (0.5 + rng.random()))  # reading the model answer
    rating = rng.choices(list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values()))[0]
    student.sent += 1
    student.sent_questions.add(qid)
    started = time.monotonic()
    payloads = await session.rerun(press=rating)
    if not any(f"Recorded {rating} for".encode() in p for p in payloads):
        run.error("not acknowledged", f"student {student.n}: rating {rating} for {qid} was not acknowledged")
        return
    run.times["rating"].append(time.monotonic() - started)
    student.acknowledged += 1
    student.acknowledged_questions.add(qid)
    left, acked = practised(payloads), len(student.acknowledged_questions)
    if left is not None and bank_size - left < acked:
        run.error("progress missing", f"student {student.n}: after a rating the page shows {bank_size - left} "
                  f"practised, {acked} acknowledged")


async def check_progress(run: Run, student: Student, bank_size: int) -> None:
    """After a reconnection: the Practice page must count every question whose rating was acknowledged (and none
    beyond those sent)."""
    payloads = await choose_view(student, "Practice") or await student.session.rerun()
    shown = practised(payloads)
    acked, sent = len(student.acknowledged_questions), len(student.sent_questions)
    seen = None if shown is None else bank_size - shown
    student.progress_checks.append((seen, acked, sent))
    if seen is None or not acked <= seen <= sent:
        run.error("progress missing", f"student {student.n} after reconnecting: the page shows {seen} practised, "
                  f"{acked} acknowledged, {sent} sent")


async def student_loop(run: Run, student: Student, start_after: float, bank_size: int) -> None:
    rng = random.Random(student.n)
    await asyncio.sleep(start_after)
    try:
        await connect(run, student)
    except Exception as exc:  # noqa: BLE001 - a student who cannot even open the page is the finding
        run.error("could not open the page", f"student {student.n}: {type(exc).__name__}: {str(exc)[:200]}")
        return
    while time.monotonic() < run.until:
        try:
            try:
                for _ in range(rng.choice((1, 2))):
                    await search(run, student, rng)
                    await asyncio.sleep(run.think_s * (0.5 + rng.random()))
                await practise(run, student, rng, bank_size)
                await asyncio.sleep(run.think_s * (0.5 + rng.random()))
            except (OSError, EOFError) as exc:
                raise Disconnected(str(exc)) from exc
            except Exception as exc:
                if type(exc).__module__.startswith("websockets"):
                    raise Disconnected(f"{type(exc).__name__}: {exc}") from exc
                raise
        except Disconnected as exc:
            run.error("disconnected", f"student {student.n}: {str(exc)[:200]}")
            if not await reconnect(run, student, bank_size):
                return
        except Exception as exc:  # noqa: BLE001 - every other failure is counted by kind, and the student goes on
            kind = "timeout" if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) else (
                "page exception" if "exception on the page" in str(exc) else
                "wrong result" if "did not show" in str(exc) else type(exc).__name__)
            run.error(kind, f"student {student.n}: {type(exc).__name__}: {str(exc)[:200]}")
            # as a student would reload a page that went wrong: a new session (a late answer to the old one's
            # request would otherwise be read as the answer to the next)
            with contextlib.suppress(Exception):
                await student.session.close()
            try:
                await connect(run, student)
            except Exception as again:  # noqa: BLE001 - counted; this student stops
                run.error("could not open the page", f"student {student.n}: {type(again).__name__}: "
                          f"{str(again)[:200]}")
                return
    with contextlib.suppress(Exception):
        await student.session.close()


async def reconnect(run: Run, student: Student, bank_size: int, attempts: int = 5) -> bool:
    """As the page does when its websocket drops: connect again (nginx picks a live process for the same cookie),
    then check the progress. True when the student can go on."""
    started = time.monotonic()
    for attempt in range(attempts):
        try:
            await connect(run, student)
            student.reconnects += 1
            run.times["reconnect"].append(time.monotonic() - started)
            await check_progress(run, student, bank_size)
            return True
        except Exception as exc:  # noqa: BLE001 - retried, then counted
            last = f"{type(exc).__name__}: {str(exc)[:200]}"
            await asyncio.sleep(1 + attempt)
    run.error("reconnect failed", f"student {student.n}: {last}")
    return False


# ---------------------------------------------------------------------------- the run
async def warm(trial, run: Run) -> None:
    """Each process loads the index, the model and the answer check before the clock starts (a real class's
    first student would wait for that once per process)."""
    for n, app in enumerate(trial.apps):
        student = Student(-1 - n, f"warm-up-{n}", passphrase=secrets.token_urlsafe(12))
        student.session = session = ProtocolSession(app.url)  # this process itself, not through nginx
        await session.open(query_string="" if run.served else f"learner={student.learner}")
        if run.served:
            await sign_in(run, student, 180)
        await session.type_query(QUERIES[0], None)
        payloads = await session.rerun(choose={"View": "Practice"})
        if (shown := current_question(run, payloads)) is None:
            raise RuntimeError(f"warming the process on port {app.port}: Practice drew no question")
        await session.rerun(set_text={"Your answer": shown[2]}, press="Check my answer")
        await session.close()
    for times in run.times.values():
        times.clear()


async def drive(trial, args, run: Run, bank_size: int) -> dict:
    students = [Student(n, f"student-{n:02d}", passphrase=secrets.token_urlsafe(12)) for n in range(args.students)]
    arrive = min(20.0, args.seconds / 4)
    killed: dict = {}

    async def kill_one() -> None:
        await asyncio.sleep(args.kill_at)
        app = max(trial.apps, key=lambda a: connections_to(a.port))  # the busiest: the kill must hit students
        killed.update(port=app.port, connections=connections_to(app.port),
                      at_s=round(time.monotonic() - started, 1))
        os.kill(app.proc.pid, signal.SIGKILL)
        app.proc.wait()

    started = time.monotonic()
    tasks = [student_loop(run, s, arrive * s.n / max(1, args.students), bank_size) for s in students]
    if args.kill_at:
        tasks.append(kill_one())
    await asyncio.gather(*tasks)
    return {"students": students, "killed": killed, "seconds": round(time.monotonic() - started, 1)}


def connections_to(port: int) -> int:
    """Established TCP connections to 127.0.0.1:`port` now (from /proc/net/tcp: nginx's to that app process)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                count += state == "01" and int(local.rsplit(":", 1)[1], 16) == port
    return count


def recorded(database_url: str, learners: list[str]) -> dict[str, int]:
    """Reviews per learner in the progress database, read through the store (progress/ owns its format)."""
    from progress import open_store

    with open_store(database_url) as store:
        return {name: store.count_reviews(name) for name in learners}


def summary(run: Run, outcome: dict, stored: dict[str, int], args, load_before, load_after, cpu_s) -> dict:
    students = outcome["students"]
    per = []
    for s in students:
        per.append({"learner": s.learner, "sent": s.sent, "acknowledged": s.acknowledged,
                    "recorded": stored.get(s.learner, 0), "reconnects": s.reconnects,
                    "progress_checks": s.progress_checks})
    lost = sum(max(0, p["acknowledged"] - p["recorded"]) for p in per)
    extra = sum(max(0, p["recorded"] - p["sent"]) for p in per)
    reconnected = [p for p in per if p["reconnects"]]
    kept = [p for p in reconnected
            if p["progress_checks"] and all(c[0] is not None and c[1] <= c[0] <= c[2] for c in p["progress_checks"])]
    ms = lambda xs, q: None if not xs else round(percentile(xs, q) * 1000)  # noqa: E731
    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
        "load_before": load_before, "load_after": load_after, "apps": args.apps, "students": args.students,
        "seconds": outcome["seconds"], "think_s": args.think, "served": run.served, "killed": outcome["killed"],
        "actions": {a: {"count": len(run.times[a]), "p50_ms": ms(run.times[a], 50), "p95_ms": ms(run.times[a], 95),
                        "max_ms": ms(run.times[a], 100)} for a in run.times},
        "errors": dict(run.errors), "error_examples": run.examples,
        "reviews": {"sent": sum(p["sent"] for p in per), "acknowledged": sum(p["acknowledged"] for p in per),
                    "recorded": sum(p["recorded"] for p in per), "lost": lost, "recorded_beyond_sent": extra},
        "reconnected_students": len(reconnected), "kept_progress": len(kept),
        "client_cpu_s": round(cpu_s, 1), "per_student": per,
    }


async def measure(args, folder: Path) -> dict:
    index_dir = Path(args.index).resolve()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    bank = the_bank(index_dir)
    expected = {q: escaped(t) for q, t in expected_titles(index_dir).items()}
    with class_trial(args.apps, folder, index_dir, Path(args.content).resolve()) as trial:
        run = Run(trial.url, bank, expected, until=0.0, served=args.served, think_s=args.think)
        await warm(trial, run)
        load_before = round(os.getloadavg()[0], 1)
        cpu_before = time.process_time()
        run.until = time.monotonic() + args.seconds
        outcome = await drive(trial, args, run, len(bank))
        cpu_s = time.process_time() - cpu_before
        load_after = round(os.getloadavg()[0], 1)
        stored = recorded(trial.database_url, [s.learner for s in outcome["students"]])
    return summary(run, outcome, stored, args, load_before, load_after, cpu_s)


def table(result: dict) -> str:
    a, r, k = result["actions"], result["reviews"], result["killed"]
    lines = [SECTION_BEGIN, "## A class on several processes (`python -m bench class`)", "",
             f"Measured {result['when']} by `bench/classroom.py` on {result['cpus']} CPUs shared with other jobs "
             f"(load average {result['load_before']} at the start, {result['load_after']} at the end): "
             f"{result['students']} simulated students for {result['seconds']:.0f} s against {result['apps']} app "
             "processes behind Debian's nginx (sticky by its routing cookie), one PostgreSQL, one index folder, all "
             "on 127.0.0.1, started as `make class` starts them. Each student speaks Streamlit's websocket protocol "
             "(bench/load.py's ProtocolSession, no browser): "
             + ("signs in (served mode: a new learner with a passphrase), then in turns " if result["served"] else
                "names their learner in the URL (no sign-in), then in turns ")
             + "one or two searches typed key by key, then Practice: "
             "an answer written and checked, the model answer revealed, a rating; pauses of about "
             f"{result['think_s']:.0f} s between steps. "
             + (f"At {k['at_s']:.0f} s the busiest process (port {k['port']}, {k['connections']} connections) was "
                "killed (SIGKILL) and not restarted."
                if k else "No process was killed."), "",
             "| action | count | p50 | p95 | max |", "|---|---|---|---|---|"]
    names = {"sign-in": "sign-in (a new learner: name and passphrase, then confirmed)",
             "search": "search (last key → results)", "answer check": "answer check (press → result)",
             "rating": "rating (press → \"Recorded\")", "reconnect": "reconnect (drop → page back)"}
    for name, label in names.items():
        x = a[name]
        if x["count"]:
            lines.append(f"| {label} | {x['count']} | {x['p50_ms']} ms | {x['p95_ms']} ms | {x['max_ms']} ms |")
    errors = ", ".join(f"{kind} {n}" for kind, n in sorted(result["errors"].items())) or "none"
    lines += ["", f"Errors by kind: {errors}. Reviews: {r['sent']} ratings sent, {r['acknowledged']} acknowledged by "
              f"the page, {r['recorded']} recorded in PostgreSQL: **{r['lost']} lost** (acknowledged, not "
              f"recorded), {r['recorded_beyond_sent']} recorded beyond those sent. Students reconnected after the "
              f"kill: {result['reconnected_students']}; of them {result['kept_progress']} saw all their progress "
              "on the page they reconnected to (every acknowledged question counted as practised)"
              + (", signed in again by their sign-in cookie (a student it failed for counts as an error \"signed "
                 "out by the reconnection\")" if result["served"] else "") + ". Raw figures "
              "(per student, every error's first message): `bench/out/classroom.json`.", SECTION_END]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench class", description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default=os.environ.get("MLPREP_INDEX") or ROOT / "build" / "index")
    parser.add_argument("--content", default=os.environ.get("MLPREP_CONTENT") or ROOT / "content")
    parser.add_argument("--apps", type=int, default=3, help="app processes behind nginx (default 3)")
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--kill-at", type=float, default=None,
                        help="seconds into the run when the app process with the most connections is killed (default "
                             "half-way; 0: none)")
    parser.add_argument("--think", type=float, default=3.0, help="a student's pause between steps (s, mean ~1.5×)")
    parser.add_argument("--served", action=argparse.BooleanOptionalAction, default=True,
                        help="students sign in with a name and a passphrase, as the class's served mode asks "
                             "(--no-served: the learner named in the URL, for an app without sign-in)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "classroom.json")
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    if args.kill_at is None:
        args.kill_at = args.seconds / 2
    if args.apps < 2 and args.kill_at:
        parser.error("killing a process needs at least 2 (--apps 2, or --kill-at 0)")
    if not (Path(args.index) / "CURRENT").exists():
        print(f"bench class: no index at {args.index}; build it first with `make index` or pass --index",
              file=sys.stderr)
        return 1
    (ROOT / "build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="class-bench-", dir=ROOT / "build") as tmp:
        os.chmod(tmp, 0o755)  # PostgreSQL runs as its own user when we are root: it must reach its folder
        try:
            result = asyncio.run(measure(args, Path(tmp)))
        except TrialError as exc:
            print(f"bench class: {exc}", file=sys.stderr)
            return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    text = table(result)
    print(text)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", text, SECTION_BEGIN, SECTION_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
