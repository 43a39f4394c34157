"""python -m bench eval   — retrieval quality table and chart (make eval)
python -m bench speed  — latency, cold start, ingest and scale (make bench)
python -m bench demo   — top hits of ten typical queries and warm in-process latency
python -m bench load   — the app as people type: against a bare Streamlit page, 8 and 20 sessions (bench/load.py)
python -m bench class  — a class: 50 students, 3 app processes behind nginx, one killed half-way (bench/classroom.py)
python -m bench ceiling — what a learned ranker over all our evidence (with the other model's cosines and a classifier of the bank's own) could reach (bench/ceiling.py)
python -m bench loose  — where the results' "loosely related" line falls on both banks' queries (bench/loose.py)"""

import sys


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("eval", "speed", "demo", "load", "class", "ceiling", "loose"):
        print(__doc__, file=sys.stderr)
        return 2
    command = sys.argv.pop(1)
    if command == "eval":
        from .eval import main as run
    elif command == "demo":
        from .demo import main as run
    elif command == "load":
        from .load import main as run
    elif command == "class":
        from .classroom import main as run
    elif command == "ceiling":
        from .ceiling import main as run
    elif command == "loose":
        from .loose import main as run
    else:
        from .speed import main as run
    return run(sys.argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
