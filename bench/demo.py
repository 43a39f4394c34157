"""python -m bench demo [INDEX] — the top hits of ten typical queries, and warm in-process search latency.

Prints the three best section hits for ten queries (the closing figures of the search core), then times
`Index.search(q, k=10)` over 200 distinct queries (each one embedded) and over the ten repeated (query cache).
"""

from __future__ import annotations

import sys
import time

from .stats import percentile
from index import DEFAULT_INDEX, SearchToolError, open_index

QUERIES = ["how do I detect leakage", "RF vs GBM", "story about a model that failed in production", "what is PSI",
           "common mistakes with cross validation", "why do deep networks stop learning in early layers",
           "example of precision vs recall tradeoff", "SGD vs mini-batch", "how does attention replace RNNs",
           "recipe for chocolate cake"]
WORDS = "model data training test feature gradient tree error drift attention leakage metric loss layer batch".split()


def _percentiles(ms: list[float]) -> str:
    return f"p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms"


def main(argv: list[str]) -> int:
    try:
        idx = open_index(argv[0] if argv else DEFAULT_INDEX)
    except SearchToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    idx.search("warm up the query model", k=5)
    for q in QUERIES:
        r = idx.search(q, k=3)
        hits = "; ".join(f"{h.chunk_id} ({h.score:.2f})" for h in r.hits)
        print(f"{q!r}: no_close_match={r.no_close_match}; {hits}")
    fresh = []
    for i in range(200):
        q = f"{WORDS[i % 15]} {WORDS[(i * 7) % 15]} question {i}"  # distinct, so every query is embedded
        t = time.perf_counter()
        idx.search(q, k=10)
        fresh.append((time.perf_counter() - t) * 1000)
    cached = []
    for q in QUERIES * 20:
        t = time.perf_counter()
        idx.search(q, k=10)
        cached.append((time.perf_counter() - t) * 1000)
    print(f"warm search incl. query embedding, 200 distinct queries: {_percentiles(fresh)}")
    print(f"repeated queries (query-vector cache), 200 searches: {_percentiles(cached)}")
    return 0
