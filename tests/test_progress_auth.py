"""Private learners (progress/auth.py): the passphrase hash format, the migration that adds its tables to today's
schema (SQLite, and PostgreSQL on the throw-away server of test_progress_store.py), the back-off on wrong
passphrases, sign-in tokens and the stored interview date."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta

import pytest

from progress import auth
from progress import store as store_mod
from progress.auth import Accounts, hash_passphrase, parse_hash, passphrase_problem, verify_passphrase
from progress.store import open_store
from test_progress_store import NOW, _new_pg_database, _raw, database, pg_server  # noqa: F401 (fixtures)

GOOD = "correct horse battery staple"
FAST = {"n": 2 ** 10, "r": 8, "p": 1}  # cheap parameters where a test hashes many times


# --------------------------------------------------------------------------- the hash format
def test_a_hash_round_trips_and_refuses_a_wrong_passphrase():
    stored = hash_passphrase(GOOD)
    assert re.fullmatch(r"scrypt\$n=16384\$r=8\$p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=", stored), stored
    assert GOOD not in stored
    assert verify_passphrase(GOOD, stored)
    assert not verify_passphrase(GOOD + " ", stored)
    assert not verify_passphrase("", stored)


def test_the_parameters_are_read_from_the_stored_string():
    salt = bytes(range(16))
    stored = hash_passphrase(GOOD, salt=salt, **FAST)
    parsed = parse_hash(stored)
    assert (parsed.n, parsed.r, parsed.p, parsed.salt, len(parsed.key)) == (1024, 8, 1, salt, 32)
    assert str(parsed) == stored
    assert verify_passphrase(GOOD, stored)  # checked with n=1024, not the module's default n=16384
    other = hash_passphrase(GOOD, salt=salt)  # same salt, default cost: another key
    assert parse_hash(other).key != parsed.key and verify_passphrase(GOOD, other)


@pytest.mark.parametrize("damaged", ["", "plain-text", "scrypt$n=16384$r=8$p=1$c2FsdA==", "bcrypt$x$y",
                                     "scrypt$n=1000$r=8$p=1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "=",
                                     f"scrypt$n={2 ** 24}$r=8$p=1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "="])
def test_a_damaged_or_unreasonable_stored_hash_matches_nothing(damaged):
    with pytest.raises(ValueError):
        parse_hash(damaged)
    assert not verify_passphrase(GOOD, damaged)


def test_the_comparison_is_constant_time(monkeypatch):
    seen = []
    real = auth.hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    stored = hash_passphrase(GOOD, **FAST)
    assert verify_passphrase(GOOD, stored) and not verify_passphrase("wrong one!", stored)
    assert len(seen) == 2 and all(len(a) == len(b) == 32 for a, b in seen)


def test_new_passphrases_need_a_length_and_a_matching_confirmation():
    assert "at least 10 characters" in passphrase_problem("short")
    assert "differ" in passphrase_problem(GOOD, GOOD + "!")
    assert passphrase_problem(GOOD, GOOD) is None
    assert "longer than" in passphrase_problem("x" * 2000)


# --------------------------------------------------------------------------- the migration of today's schema
def test_a_version_1_database_is_migrated_with_its_data_intact(database, monkeypatch):
    with monkeypatch.context() as old:  # the program as it was: schema version 1 only
        old.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS[:1])
        old.setattr(store_mod, "SCHEMA_VERSION", 1)
        v1 = open_store(database)
        for i, rating in enumerate(["good", "again", "easy"]):
            v1.record_review("alice", "feature-leakage", rating, now=NOW + timedelta(days=i))
        v1.record_review("Bob", "bias-variance", "hard", now=NOW)
        before = {name: v1.reviews(name) for name in ("alice", "Bob")}
        assert v1.schema_version() == 1
        v1.close()
    raw = _raw(database)
    tables = {r[0] for r in raw.execute("SELECT version FROM schema_version").fetchall()}
    raw.close()
    assert tables == {1}

    migrated = open_store(database)
    assert migrated.schema_version() == 2
    assert {name: migrated.reviews(name) for name in ("alice", "Bob")} == before
    assert migrated.cards("alice") == migrated.recompute("alice")
    assert migrated.learners() == ["alice", "Bob"]
    accounts = Accounts(migrated)
    # a learner from before passphrases has none: the first to sign in with that name sets it and keeps the log
    assert not accounts.has_passphrase("alice")
    assert accounts.sign_in("alice", GOOD, "203.0.113.1").outcome == "unknown"
    assert accounts.create("alice", GOOD, GOOD, "203.0.113.1").ok
    assert migrated.count_reviews("alice") == 3
    raw = _raw(database)
    versions = [r[0] for r in raw.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
    raw.close()
    assert versions == [1, 2]


# --------------------------------------------------------------------------- accounts in a database
@pytest.fixture
def accounts(database, monkeypatch):
    monkeypatch.setattr(auth, "SCRYPT_N", 2 ** 10)  # the tests hash often; the format test checks the default
    return Accounts(open_store(database))


def test_salts_differ_per_learner_and_only_hashes_are_stored(accounts, database):
    assert accounts.create("alice", GOOD, GOOD, "203.0.113.1").ok
    assert accounts.create("bob", GOOD, GOOD, "203.0.113.1").ok
    raw = _raw(database)
    stored = [r[0] for r in raw.execute("SELECT passphrase_hash FROM learner_passphrases").fetchall()]
    raw.close()
    alice, bob = (parse_hash(s) for s in stored)
    assert alice.salt != bob.salt and alice.key != bob.key
    assert not any(GOOD in s for s in stored)


def test_creating_refuses_a_taken_name_the_default_learner_and_weak_passphrases(accounts):
    assert accounts.create("Alice", GOOD, GOOD, "203.0.113.1").ok
    taken = accounts.create("alice", "another passphrase", "another passphrase", "203.0.113.9")
    assert taken.outcome == "taken" and "taken" in taken.message
    assert accounts.sign_in("alice", "another passphrase", "203.0.113.9").outcome == "wrong"
    assert accounts.create("default", GOOD, GOOD, "203.0.113.1").outcome == "refused"
    assert "at least 10" in accounts.create("carol", "short", "short", "203.0.113.1").message
    assert "differ" in accounts.create("carol", GOOD, GOOD + "x", "203.0.113.1").message
    assert accounts.create("../etc", GOOD, GOOD, "203.0.113.1").outcome == "refused"
    assert not accounts.has_passphrase("carol")


def test_a_sign_in_token_resumes_in_another_process_until_it_expires_or_signs_out(accounts, database):
    made = accounts.create("alice", GOOD, GOOD, "203.0.113.1", now=NOW)
    again = accounts.sign_in("ALICE", GOOD, "203.0.113.1", now=NOW)
    assert again.ok and again.learner == "alice" and again.token != made.token
    other = Accounts(open_store(database))  # another app process on the same database
    assert other.resume(again.token, now=NOW + timedelta(hours=11, minutes=59)) == ("alice", NOW + timedelta(hours=12))
    assert other.resume(again.token, now=NOW + timedelta(hours=12)) is None
    assert other.resume(again.token[:-1] + "x", now=NOW) is None and other.resume(None) is None
    raw = _raw(database)
    rows = raw.execute("SELECT token_sha256 FROM sign_ins").fetchall()
    raw.close()
    assert {r[0] for r in rows} == {auth.token_digest(made.token), auth.token_digest(again.token)}
    other.sign_out(again.token)
    assert accounts.resume(again.token, now=NOW) is None
    assert accounts.resume(made.token, now=NOW) == ("alice", NOW + timedelta(hours=12))


def test_wrong_passphrases_back_off_per_name_across_processes(accounts, database, caplog):
    accounts.create("alice", GOOD, GOOD, "203.0.113.1", now=NOW)
    other = Accounts(open_store(database))
    waits = []
    with caplog.at_level(logging.WARNING, logger="mlprep.sign_in"):
        for i in range(6):  # from six addresses, alternating between two app processes
            at = NOW + timedelta(seconds=100 * i)
            result = (accounts, other)[i % 2].sign_in("alice", f"guess number {i}", f"198.51.100.{i}", now=at)
            assert result.outcome == "wrong"
            waits.append(result.wait_s)
    assert waits == [0, 0, 1, 2, 4, 8]  # three free tries, then doubling
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 6 and all("alice" in line and "guess" not in line for line in lines)
    blocked_at = NOW + timedelta(seconds=500, milliseconds=500)
    blocked = other.sign_in("alice", GOOD, "192.0.2.77", now=blocked_at)  # even the right one waits
    assert blocked.outcome == "blocked" and blocked.wait_s == 7.5 and "wait 8 seconds" in blocked.message
    right = accounts.sign_in("alice", GOOD, "192.0.2.77", now=NOW + timedelta(seconds=509))
    assert right.ok
    assert accounts.blocked_for("name", "alice", NOW + timedelta(seconds=509)) == 0
    assert accounts.sign_in("alice", "after success", "192.0.2.77", now=NOW + timedelta(seconds=510)).wait_s == 0


def test_one_client_guessing_many_names_is_slowed_down_and_forgotten_after_an_hour(accounts):
    client = "198.51.100.200"
    for name in ("ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal", "ian", "jan", "kim"):
        accounts.create(name, GOOD, GOOD, "203.0.113.1", now=NOW)
    waits = [accounts.sign_in(name, "not it at all", client, now=NOW + timedelta(seconds=10 * i)).wait_s
             for i, name in enumerate(["ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal", "ian", "jan", "kim"])]
    assert waits == [0] * 9 + [1, 2]  # no name failed three times: the client's count (ten free) is what blocks
    assert accounts.sign_in("ann", GOOD, client, now=NOW + timedelta(seconds=101)).outcome == "blocked"
    assert accounts.sign_in("ann", GOOD, "203.0.113.50", now=NOW + timedelta(seconds=101)).ok  # another client
    later = NOW + timedelta(hours=2)
    assert accounts.sign_in("ben", "not it at all", client, now=later).wait_s == 0  # an hour quiet: forgotten


def test_the_interview_date_is_stored_with_the_learner(accounts, database):
    accounts.create("alice", GOOD, GOOD, "203.0.113.1")
    assert accounts.interview("alice") is None
    accounts.set_interview("alice", date(2027, 1, 15))
    assert Accounts(open_store(database)).interview("ALICE") == date(2027, 1, 15)
    accounts.set_interview("alice", None)
    assert accounts.interview("alice") is None


def test_the_backoff_rule():
    rule = auth.BACKOFF["name"]
    assert [rule.wait_after(n) for n in range(1, 8)] == [0, 0, 1, 2, 4, 8, 16]
    assert rule.wait_after(100) == 15 * 60
    assert auth.BACKOFF["client"].wait_after(10) == 1
