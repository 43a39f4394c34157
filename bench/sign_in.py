"""What a passphrase guess costs on a served instance: `python -m bench.sign_in` (no server, no network).

Through progress.auth.Accounts on a fresh SQLite progress database in a temporary folder, with the real scrypt
parameters (n=2**14, r=8, p=1):
- a right passphrase: the whole sign-in (scrypt, the database look-ups and the new sign-in row), p50/p95;
- a wrong one while its name is not blocked yet: the same work plus counting the failure, p50/p95;
- a guess refused by the back-off: no scrypt at all, p50/p95;
- the back-off itself: after the k-th wrong passphrase in a row for one name, how long that name is blocked, and
  how many guesses a patient attacker gets at one name per hour and per day (from any number of addresses).
Prints a Markdown table (docs/reliability.md quotes it).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from progress import open_store  # noqa: E402
from progress.auth import BACKOFF, Accounts  # noqa: E402

PASSPHRASE = "a long enough passphrase"


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def guesses_within(seconds: float, rule) -> int:
    """How many wrong guesses at one name fit in `seconds` when each waits out the block the last one earned."""
    spent, failures = 0.0, 0
    while True:
        wait = rule.wait_after(failures) if failures else 0.0
        if spent + wait > seconds:
            return failures
        spent += wait
        failures += 1


def measure(rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="mlprep-sign-in-") as folder:
        accounts = Accounts(open_store(Path(folder) / "progress.db"))
        now = datetime(2026, 12, 1, tzinfo=timezone.utc)
        accounts.create("alice", PASSPHRASE, PASSPHRASE, "bench", now=now)
        right = [_timed(lambda: accounts.sign_in("alice", PASSPHRASE, "bench", now=now)) for _ in range(rounds)]
        wrong = []
        for i in range(rounds):  # each at a fresh name, so the back-off never answers before scrypt does
            accounts.create(f"learner {i}", PASSPHRASE, PASSPHRASE, "bench", now=now)
            at = now + timedelta(hours=i)  # an hour apart: the client's count is forgotten in between
            wrong.append(_timed(lambda: accounts.sign_in(f"learner {i}", "not the passphrase", f"c{i}", now=at)))
        for _ in range(BACKOFF["name"].free):
            accounts.sign_in("alice", "not the passphrase", "bench-2", now=now)
        blocked = [_timed(lambda: accounts.sign_in("alice", PASSPHRASE, "bench-3", now=now)) for _ in range(rounds)]
        assert accounts.sign_in("alice", PASSPHRASE, "bench-3", now=now).outcome == "blocked"
    rule = BACKOFF["name"]
    return {
        "right_ms": right, "wrong_ms": wrong, "blocked_ms": blocked,
        "waits": {k: rule.wait_after(k) for k in (1, 2, 3, 4, 5, 8, 10, 12, 13, 20)},
        "per_hour": guesses_within(3600, rule), "per_day": guesses_within(86400, rule),
    }


def table(result: dict) -> str:
    def row(label, values):
        return f"| {label} | {percentile(values, 50):.2f} ms | {percentile(values, 95):.2f} ms |"

    lines = ["| Sign-in attempt | p50 | p95 |", "| --- | --- | --- |",
             row("right passphrase (scrypt + look-ups + new sign-in row)", result["right_ms"]),
             row("wrong passphrase, name not blocked (scrypt + failure counted)", result["wrong_ms"]),
             row("any passphrase while the name is blocked (no scrypt)", result["blocked_ms"]), "",
             "| Wrong passphrases in a row for one name | " + " | ".join(str(k) for k in result["waits"]) + " |",
             "| --- |" + " --- |" * len(result["waits"]),
             "| Then blocked for (s) | " + " | ".join(f"{w:g}" for w in result["waits"].values()) + " |", "",
             f"A patient guesser waiting out every block gets {result['per_hour']} guesses at one name in the first "
             f"hour and {result['per_day']} in a day, from any number of addresses."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="attempts timed per kind")
    args = parser.parse_args(argv)
    logging.getLogger("mlprep.sign_in").setLevel(logging.ERROR)  # one warning per wrong try is the server's log
    print(table(measure(args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
