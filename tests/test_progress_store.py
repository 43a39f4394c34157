"""The progress database (progress.store) on SQLite and on a real, throw-away PostgreSQL server.

The PostgreSQL server is started once per test session: initdb into a temporary folder as the unprivileged
`postgres` user (tests run as root in CI), a free loopback port, its socket in that folder; stopped at the end.
Where initdb is not installed these tests are skipped with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fsrs import Rating

from deploy.trial import TrialError, free_port, postgres
from progress import schema
from progress import store as store_mod
from progress.errors import (InvalidLearner, InvalidQuestionId, ProgressDamaged, ProgressLocked,
                             ProgressSchemaTooNew, ProgressUnavailable)
from progress.store import learner_name, open_store

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
SESSIONS, REVIEWS_PER_SESSION = 16, 50
QUESTIONS = ["bias-variance", "feature-leakage", "cross-validation", "gradient-boosting", "precision-recall"]


# -- a throw-away PostgreSQL server ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_server():
    """The URL of a PostgreSQL server of our own, for this test session (deploy.trial.postgres, as `make class`
    starts one, but with trust authentication and thrown away at the end)."""
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("PostgreSQL tests need initdb and pg_ctl on PATH (PostgreSQL 15 server binaries); not found")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the PostgreSQL server as")
    folder = Path(tempfile.mkdtemp(prefix="mlprep-pg-"))
    try:
        with postgres(folder, auth="trust") as server:
            yield server
    except TrialError as exc:
        pytest.fail(f"could not start PostgreSQL: {exc}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _new_pg_database(server: str) -> str:
    """A fresh, empty schema on the session's server, as a URL whose options put it first on the search_path
    (cheaper than a database per test, and it exercises options given in MLPREP_DATABASE_URL)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{server}/postgres?options=-csearch_path%3D{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """A fresh, empty progress database: a SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "build" / "progress.db")
    return _new_pg_database(request.getfixturevalue("pg_server"))


def _raw(database: str):
    """A plain connection to the same database, bypassing the store (to try what the store would never do)."""
    if database.startswith("postgresql://"):  # the URL's search_path option keeps it in the test's schema
        import psycopg

        return psycopg.connect(database, autocommit=True)
    return sqlite3.connect(database, isolation_level=None)


# -- learners --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, name", [("alice", "alice"), ("  Ada   Lovelace ", "Ada Lovelace"),
                                       ("José", "José"), ("Jose\u0301", "José"), ("team-1.b_2", "team-1.b_2"),
                                       ("李雷", "李雷"), ("x" * 40, "x" * 40)])
def test_learner_names_are_normalized(raw, name):
    assert learner_name(raw) == name


@pytest.mark.parametrize("raw", ["", "   ", "x" * 41, "../etc/passwd", "a/b", "<script>", "a;DROP TABLE reviews",
                                 "bob\x00", "tab\there", "-dash", ".hidden", "o'brien", "emoji🙂", "a%20b", None, 7])
def test_untrusted_learner_names_are_refused_with_the_rule(raw):
    with pytest.raises(InvalidLearner, match="1-40 letters, digits"):
        learner_name(raw)


def test_the_question_id_pattern_is_the_banks():
    # read from the source, so that this holds even while the index package cannot be imported
    import ast

    tree = ast.parse((ROOT / "ingest" / "ids.py").read_text(encoding="utf-8"))
    banks = [node.value.args[0].value for node in ast.walk(tree) if isinstance(node, ast.Assign)
             and any(getattr(t, "id", None) == "ID_PATTERN" for t in node.targets)]
    assert banks == [schema.ID_PATTERN.pattern]


# -- reviews, cards, learners (both stores) --------------------------------------------------------------------

def test_reviews_make_cards_that_recompute_from_the_log(database):
    store = open_store(database)
    assert store.schema_version() == schema.SCHEMA_VERSION
    plan = [("feature-leakage", "good", 0), ("feature-leakage", "good", 0.01), ("bias-variance", "again", 0.02),
            ("feature-leakage", "again", 5), ("bias-variance", "hard", 5.1), ("feature-leakage", "good", 5.2),
            ("bias-variance", "easy", 9)]
    returned = {}
    for qid, rating, days in plan:
        returned[qid] = store.record_review("Alice", qid, rating, now=NOW + timedelta(days=days), duration_ms=1200)
    cards = store.cards("alice")
    assert cards == returned
    assert cards == store.recompute("ALICE")
    assert cards["feature-leakage"].reps == 4 and cards["feature-leakage"].lapses == 1
    log = store.reviews("alice", "bias-variance")
    assert [r.rating for r in log] == [Rating.Again, Rating.Hard, Rating.Easy]
    assert log[0].reviewed_at == NOW + timedelta(days=0.02) and log[0].duration_ms == 1200 and log[0].source == "app"
    assert store.count_reviews() == 7 and store.learners() == ["Alice"]
    store.close()
    reopened = open_store(database)  # nothing is kept in memory: a new process sees the same cards
    assert reopened.cards("Alice") == cards
    reopened.close()


def test_each_learner_sees_only_their_own_cards_and_history(database):
    store = open_store(database)
    store.record_review("alice", "feature-leakage", "again", now=NOW)
    store.record_review("bob", "bias-variance", "good", now=NOW)
    store.record_review("Bob", "bias-variance", "good", now=NOW + timedelta(minutes=10))
    assert set(store.cards("alice")) == {"feature-leakage"}
    assert set(store.cards("bob")) == {"bias-variance"} and store.cards("bob")["bias-variance"].reps == 2
    assert [r.learner for r in store.reviews("BOB")] == ["bob", "bob"]
    assert store.cards("carol") == {} and store.reviews("carol") == [] and store.count_reviews("carol") == 0
    assert store.learners() == ["alice", "bob"]
    plan = store.plan("alice", QUESTIONS, now=NOW + timedelta(days=1))
    assert plan.queue[0] == "feature-leakage" and plan.counts.new == len(QUESTIONS) - 1
    store.close()


def test_bad_input_records_nothing(database):
    store = open_store(database)
    for learner, qid, rating in [("", "feature-leakage", "good"), ("alice", "../index", "good"),
                                 ("alice", "Feature Leakage", "good"), ("alice", "feature-leakage", "knew")]:
        with pytest.raises((InvalidLearner, InvalidQuestionId, ValueError)):
            store.record_review(learner, qid, rating, now=NOW)
    with pytest.raises(ValueError):
        store.record_review("alice", "feature-leakage", "good", now=NOW, duration_ms=-5)
    assert store.count_reviews() == 0 and store.learners() == []
    store.close()


def test_the_log_is_append_only_even_for_other_programs(database):
    store = open_store(database)
    store.record_review("alice", "feature-leakage", "good", now=NOW)
    store.close()
    raw = _raw(database)
    for statement in ("UPDATE reviews SET rating = 4", "DELETE FROM reviews"):
        with pytest.raises(Exception, match="append-only"):
            raw.execute(statement)
    raw.close()
    assert open_store(database).count_reviews() == 1


def test_the_schema_is_versioned_and_a_newer_one_is_refused(database):
    open_store(database).close()
    open_store(database).close()  # a second open migrates nothing
    raw = _raw(database)
    rows = raw.execute("SELECT version FROM schema_version").fetchall()
    assert [r[0] for r in rows] == [m.version for m in schema.MIGRATIONS]
    params = "(99, 'from the future', '2030-01-01T00:00:00+00:00')"
    raw.execute(f"INSERT INTO schema_version (version, description, applied_at) VALUES {params}")
    raw.close()
    with pytest.raises(ProgressSchemaTooNew, match="schema version 99, newer than this program"):
        open_store(database)


def test_sessions_opening_a_new_database_at_once_create_it_once(database):
    stores, errors, barrier = [], [], threading.Barrier(8)

    def run():
        try:
            barrier.wait()
            stores.append(open_store(database))
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=run) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and len(stores) == 8
    raw = _raw(database)
    versions = [r[0] for r in raw.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
    assert versions == [m.version for m in schema.MIGRATIONS], "each migration applied once"
    raw.close()
    for s in stores:
        s.close()


# -- the old practice.json tally -------------------------------------------------------------------------------

def _tally(path: Path) -> Path:
    path.write_text(json.dumps({"version": 1, "questions": {
        "feature-leakage": {"knew": 2, "shaky": 1, "last": "knew", "at": NOW.timestamp()},
        "bias-variance": {"knew": 0, "shaky": 1, "last": "shaky", "at": NOW.timestamp() - 86400},
        "../bad": {"knew": 1, "shaky": 0, "last": "knew", "at": 1.0},
        "cross-validation": {"knew": 1, "last": "unknown"},
    }}), encoding="utf-8")
    return path


def test_practice_json_is_imported_once_into_the_default_learner(database, tmp_path):
    tally = _tally(tmp_path / "practice.json")
    before = tally.read_bytes()
    store = open_store(database)
    result = store.import_practice_json(tally)
    assert result.imported and result.reviews == 4 and result.questions == 2
    log = store.reviews("default")
    assert [(r.question_id, r.rating) for r in log] == [
        ("bias-variance", Rating.Again),  # the older question first
        ("feature-leakage", Rating.Again), ("feature-leakage", Rating.Good), ("feature-leakage", Rating.Good)]
    assert log[0].reviewed_at == NOW - timedelta(days=1) and log[-1].reviewed_at == NOW
    assert {r.source for r in log} == {"practice.json"}
    assert store.cards("default") == store.recompute("default")
    again = store.import_practice_json(tally)
    assert not again.imported and "already imported" in again.message
    store.close()
    assert not open_store(database).import_practice_json(tally, learner="someone").imported
    assert open_store(database).count_reviews() == 4 and tally.read_bytes() == before


def test_practice_json_imports_once_when_two_processes_start_together(database, tmp_path):
    tally = _tally(tmp_path / "practice.json")
    stores = [open_store(database) for _ in range(4)]
    results, barrier = [], threading.Barrier(len(stores))

    def run(store):
        barrier.wait()
        results.append(store.import_practice_json(tally))

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(r.imported for r in results) == [False, False, False, True]
    assert stores[0].count_reviews() == 4
    for s in stores:
        s.close()


def test_a_missing_or_unreadable_tally_is_not_recorded_as_imported(database, tmp_path):
    store = open_store(database)
    assert not store.import_practice_json(tmp_path / "nothing.json").imported
    broken = tmp_path / "practice.json"
    broken.write_text("{not json", encoding="utf-8")
    result = store.import_practice_json(broken)
    assert not result.imported and "not a practice tally" in result.message
    _tally(broken)
    assert store.import_practice_json(broken).imported  # fixed, it is imported after all
    store.close()


# -- damaged, locked, unreachable -----------------------------------------------------------------------------

def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@pytest.fixture
def bank_and_index(tmp_path, content_dir) -> Path:
    """A content folder and an index-like folder beside the database, to prove they are never touched."""
    index = tmp_path / "build" / "index"
    index.mkdir(parents=True)
    (index / "CURRENT").write_text("v-1\n")
    return tmp_path


def test_a_damaged_sqlite_file_gives_the_fix_and_is_left_alone(bank_and_index):
    db = bank_and_index / "build" / "progress.db"
    before_tree = _tree_digest(bank_and_index / "content") + _tree_digest(bank_and_index / "build" / "index")
    db.write_bytes(b"this is not a database" * 100)
    fix = r"damaged .*mv .*progress\.db .*progress\.db\.broken.*-wal.*not affected"
    with pytest.raises(ProgressDamaged, match=fix):
        open_store(db)
    assert db.read_bytes() == b"this is not a database" * 100
    assert _tree_digest(bank_and_index / "content") + _tree_digest(bank_and_index / "build" / "index") == before_tree


def test_a_database_with_corrupted_pages_is_caught_on_open(tmp_path):
    db = tmp_path / "progress.db"
    store = open_store(db)
    for i in range(300):
        store.record_review(f"learner-{i % 7}", QUESTIONS[i % 5], "good", now=NOW + timedelta(minutes=i))
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    raw = bytearray(db.read_bytes())
    page = 4096
    assert len(raw) > 4 * page
    raw[2 * page: 2 * page + 12] = b"\xff" * 12  # garble the header of the third page (a b-tree page)
    db.write_bytes(bytes(raw))
    with pytest.raises(ProgressDamaged, match="damaged"):
        store = open_store(db)
        store.cards("learner-1")
        store.count_reviews()


def test_a_file_with_our_tables_but_no_version_is_refused(tmp_path):
    db = tmp_path / "progress.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE reviews (x)")
    conn.close()
    with pytest.raises(ProgressDamaged, match="no schema_version"):
        open_store(db)


def test_a_locked_sqlite_database_fails_clearly_and_records_nothing(tmp_path):
    db = tmp_path / "progress.db"
    store = open_store(db, lock_timeout_s=0.3)
    store.record_review("alice", "feature-leakage", "good", now=NOW)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program sits on the write lock
    try:
        with pytest.raises(ProgressLocked, match="locked for 0.3 s.*close it and try again"):
            store.record_review("alice", "feature-leakage", "good", now=NOW + timedelta(minutes=10))
        assert store.cards("alice")["feature-leakage"].reps == 1  # reading still works (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.record_review("alice", "feature-leakage", "good", now=NOW + timedelta(minutes=10))
    assert store.count_reviews() == 2
    store.close()


def test_an_unwritable_place_gives_the_fix(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ProgressUnavailable, match="MLPREP_DATABASE"):
        open_store(blocker / "sub" / "progress.db")


def test_an_unreachable_postgresql_server_gives_the_fix_without_the_password():
    url = f"postgresql://someone:s3cret@127.0.0.1:{free_port()}/mlprep"
    with pytest.raises(ProgressUnavailable, match="MLPREP_DATABASE_URL") as caught:
        open_store(url, lock_timeout_s=2)
    assert "s3cret" not in str(caught.value) and "someone:***@127.0.0.1" in str(caught.value)


def test_a_locked_postgresql_card_fails_clearly(pg_server):
    database = _new_pg_database(pg_server)
    store = open_store(database, lock_timeout_s=0.3)
    store.record_review("alice", "feature-leakage", "good", now=NOW)
    raw = _raw(database)
    raw.execute("BEGIN")
    raw.execute("LOCK TABLE reviews IN EXCLUSIVE MODE")
    try:
        with pytest.raises(ProgressLocked, match="locked"):
            store.record_review("alice", "feature-leakage", "good", now=NOW + timedelta(minutes=10))
    finally:
        raw.execute("ROLLBACK")
        raw.close()
    assert store.count_reviews() == 1
    store.close()


def test_pooled_connections_killed_by_the_server_are_replaced(pg_server):
    database = _new_pg_database(pg_server)
    store = open_store(database)
    store.record_review("alice", "feature-leakage", "good", now=NOW)
    raw = _raw(database)
    killed = raw.execute("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE pid <> pg_backend_pid() AND datname = current_database() "
                         "AND backend_type = 'client backend'").fetchone()[0]
    raw.close()
    assert killed >= 1  # the store's idle connection is gone
    store.record_review("alice", "feature-leakage", "good", now=NOW + timedelta(minutes=10))
    assert store.count_reviews() == 2
    store.close()


def test_the_environment_chooses_the_database(tmp_path):
    assert store_mod.database_from_env({}) == str(store_mod.DEFAULT_PATH)
    assert store_mod.database_from_env({"MLPREP_DATABASE": "/x/p.db"}) == "/x/p.db"
    both = {"MLPREP_DATABASE": "/x/p.db", "MLPREP_DATABASE_URL": "postgresql://h/db"}
    assert store_mod.database_from_env(both) == "postgresql://h/db"


# -- no lost review under concurrency --------------------------------------------------------------------------

def _check_every_review_recorded(database: str, sessions: int, per_session: int) -> None:
    store = open_store(database)
    assert store.count_reviews() == sessions * per_session
    for learner in sorted({f"learner-{s % 4}" for s in range(sessions)}):
        log = store.reviews(learner)
        assert len(log) == sessions // 4 * per_session
        assert len({r.id for r in log}) == len(log)
        cards = store.cards(learner)
        # each card's state was computed from the one before it: replaying the log gives the same cards,
        # and the last row of each question has counted every review of it
        assert cards == store.recompute(learner)
        for qid, card in cards.items():
            assert card.reps == sum(1 for r in log if r.question_id == qid)
    store.close()


def _session_plan(session: int) -> list[tuple[str, str, str]]:
    ratings = ["again", "hard", "good", "easy"]
    return [(f"learner-{session % 4}", QUESTIONS[(session + i) % len(QUESTIONS)], ratings[(session * 7 + i) % 4])
            for i in range(REVIEWS_PER_SESSION)]


def test_16_threads_x_50_reviews_on_one_shared_store_lose_nothing(database):
    store = open_store(database)
    barrier, errors = threading.Barrier(SESSIONS), []

    def session(n: int):
        try:
            barrier.wait()
            for learner, qid, rating in _session_plan(n):
                store.record_review(learner, qid, rating)
        except Exception as e:  # reported below: a thread's exception would otherwise vanish
            errors.append(repr(e))

    threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    store.close()
    assert errors == []
    _check_every_review_recorded(database, SESSIONS, REVIEWS_PER_SESSION)


_WORKER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from progress.store import open_store
store = open_store(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
for learner, qid, rating in json.loads(sys.argv[3]):
    store.record_review(learner, qid, rating, source="worker")
store.close()
print("done", flush=True)
"""


def test_16_processes_x_50_reviews_lose_nothing(database):
    open_store(database).close()  # created once; the workers open it as the app's processes would
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, str(ROOT), database, json.dumps(_session_plan(n))],
                                cwd=ROOT,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for n in range(SESSIONS)]
    try:
        for w in workers:
            assert w.stdout.readline().strip() == "ready", w.stderr.read()
        for w in workers:  # all of them start writing at once
            w.stdin.write("go\n")
            w.stdin.flush()
        outputs = [w.communicate(timeout=300) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert [w.returncode for w in workers] == [0] * SESSIONS, [err[-500:] for _, err in outputs]
    assert all(out.strip() == "done" for out, _ in outputs)
    _check_every_review_recorded(database, SESSIONS, REVIEWS_PER_SESSION)


def test_the_daily_time_budget_is_stored_with_the_learner(database):
    store = open_store(database)
    assert store.daily_minutes("alice") is None
    store.set_daily_minutes("alice", 25)
    store.set_daily_minutes("bob", 10)
    assert store.daily_minutes("ALICE") == 25 and store.daily_minutes("bob") == 10
    store.set_daily_minutes("Alice", 40)
    assert store.daily_minutes("alice") == 40
    for bad in (0, -5, 601, 2.5, True, "20"):
        with pytest.raises(ValueError, match="whole number of minutes from 1 to 600"):
            store.set_daily_minutes("alice", bad)
    assert store.daily_minutes("alice") == 40
    store.set_daily_minutes("alice", None)
    assert store.daily_minutes("alice") is None and store.count_reviews() == 0
    store.close()


def test_a_version_2_database_gains_the_budget_and_keeps_the_interview(database, monkeypatch):
    from progress.auth import Accounts

    with monkeypatch.context() as old:  # the program before the daily budget: schema version 2
        old.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        old.setattr(schema, "SCHEMA_VERSION", 2)
        v2 = open_store(database)
        Accounts(v2).set_interview("alice", date(2027, 1, 15))
        v2.record_review("alice", "feature-leakage", "good", now=NOW)
        assert v2.schema_version() == 2
        v2.close()
    store = open_store(database)
    assert store.schema_version() == schema.SCHEMA_VERSION  # 3 (the budget) and every later one
    store.set_daily_minutes("alice", 20)
    assert store.daily_minutes("alice") == 20 and Accounts(store).interview("alice") == date(2027, 1, 15)
    Accounts(store).set_interview("alice", date(2027, 2, 1))
    assert store.daily_minutes("alice") == 20  # one setting written leaves the other alone
    assert store.count_reviews("alice") == 1
    store.close()
