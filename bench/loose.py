"""python -m bench loose — where index.results draws the line of "loosely related", checked on both banks.

For every real query (not off-topic) of the seed bank and the larger bank, the questions the app shows (the first
five) below the first: how many right answers (the query's expected questions, e.g. a multi-style query's second
question) would be set apart as loosely related, and how many wrong ones, for the rule in use and a few other
shares of the first's score. The right answers must all stay in the main group.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOWN = 5  # the questions a search shows (ui/views/search.py's MAX_GROUPS)


def rows(bank, idx) -> list[tuple[bool, str, float, float]]:
    """(is a right answer, query style, score, first question's score) of every question shown below the first."""
    out = []
    for query in bank.queries:
        if query.offtopic:
            continue
        groups = idx.search(query.q, k=20).groups[:SHOWN]
        out += [(g.question_id in query.expect, query.style, g.score, groups[0].score) for g in groups[1:]]
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench loose", description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default=str(ROOT / "build" / "index"), help="the seed bank's index (content/)")
    parser.add_argument("--large-index", default=str(ROOT / "build" / "eval" / "large" / "index"),
                        help="the larger bank's index, built or updated here with the seed index's model")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    from index import open_index
    from index.results import LOOSE_FLOOR, LOOSE_SHARE
    from ingest.build import build

    from .sets import large_bank, seed_bank

    seed_idx = open_index(args.index)
    keys = set(seed_idx.sections)
    large = large_bank(keys, Path(args.large_index).parent)
    build(large.content, Path(args.large_index), model=seed_idx.manifest["model"]["source"])
    banks = [("seed", seed_bank(keys), seed_idx), ("large", large, open_index(args.large_index))]
    print(f"model {seed_idx.model_name}; the rule: score < {LOOSE_SHARE} × the first's or < {LOOSE_FLOOR}")
    print("bank   share  right answers set apart (multi)  wrong answers set apart")
    for name, bank, idx in banks:
        found = rows(bank, idx)
        right = [r for r in found if r[0]]
        lowest = min(right, key=lambda r: r[2] / r[3]) if right else None
        for share in sorted({0.2, LOOSE_SHARE, 0.3, 0.35, 0.4}):
            def loose(r):
                return r[2] < LOOSE_FLOOR or r[2] < share * r[3]
            lost = [r for r in right if loose(r)]
            wrong = [r for r in found if not r[0]]
            mark = "  (in use)" if share == LOOSE_SHARE else ""
            print(f"{name:6} {share:5.2f}  {len(lost):3d} of {len(right):3d} "
                  f"({sum(r[1] == 'multi' for r in lost)} of {sum(r[1] == 'multi' for r in right)} multi)"
                  f"{'':10}{sum(map(loose, wrong)):4d} of {len(wrong):4d}{mark}")
        if lowest is not None:
            print(f"{name:6} lowest right answer: {lowest[2] / lowest[3]:.3f} of the first's score; "
                  f"lowest score {min(r[2] for r in right):.2f}")
    return 0
