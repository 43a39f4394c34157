"""`python -m bench.first_run` — a new user's first `make run`, timed to the first answer.

Clones this checkout's HEAD into a temporary folder (no `.venv`, no index) with an empty model cache
(`MLPREP_MODEL_CACHE`), starts `make run PORT=…` there and opens one session with Streamlit's own protocol
(bench/load.py's ProtocolSession) on `?q=how do I detect leakage`, then reports the seconds from the start to the
`.venv` stamp, to the app's health check and to the finished run that shows the answer. It installs a whole
virtualenv and exports the default model (about 2.5 minutes and 4 GB of disk on an idle 2-core machine), so it is
a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deploy.trial import TrialError, free_port, wait_healthy

from .load import ProtocolSession

ROOT = Path(__file__).resolve().parent.parent
QUERY = "q=how+do+I+detect+leakage"
EXPECTED = b"leakage"


def first_run(work: Path, port: int, timeout: float = 1800) -> dict:
    clone, cache = work / "clone", work / "model-cache"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = dict(os.environ, MLPREP_MODEL_CACHE=str(cache), MLPREP_DATABASE=str(work / "progress.db"))
    env.pop("VIRTUAL_ENV", None)
    log_path = work / "make-run.log"
    marks: dict[str, float] = {}
    start = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not (clone / ".venv" / ".requirements.stamp").exists():  # `make run`'s first step
            if proc.poll() is not None or time.monotonic() - start > timeout:
                raise TrialError(f"make run stopped or timed out; its output:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        marks["venv"] = time.monotonic() - start
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout, "make run", log_path)
        marks["health"] = time.monotonic() - start

        async def answer() -> bool:
            session = ProtocolSession(f"http://127.0.0.1:{port}")
            payloads = await session.open(timeout=timeout, query_string=QUERY)
            return EXPECTED in b"".join(payloads).lower()

        shown = asyncio.run(answer())
        marks["first_answer"] = time.monotonic() - start
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    lines = [line for line in log_path.read_text().splitlines() if "chunks:" in line]
    return {"seconds": {k: round(v, 1) for k, v in marks.items()}, "answer_shown": shown,
            "ingest": lines[-1].strip() if lines else None, "load_average": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.first_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="folder for the clone and its model cache (default: a temporary "
                                                  "folder, removed afterwards)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="mlprep-first-run-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = first_run(work, free_port())
    except (TrialError, subprocess.CalledProcessError) as exc:
        print(f"first run failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0 if result["answer_shown"] else 1


if __name__ == "__main__":
    sys.exit(main())
