"""The command line: `python -m index search …` and `python -m index related …`.

Contract (other tools drive it):
  search [--json] [--k K] [--index DIR] [--strict] [--as-typed] [QUERY...]
      With a query: readable output (grouped by question as the app shows it: index/results.py), or one JSON
      object with --json. With none: one query per line from stdin, each answered as soon as it is read with one
      flushed JSON line. A search's JSON names the query as searched when typos were repaired ("corrected_query",
      else null) and marks each result "loosely_related".
  related [--json] [--k K] [--index DIR] [--strict] [QUESTION_ID...]
      No id means every question; JSON lines {"question_id", "related": [...]}.
  grade [--json] [--index DIR] [--strict] QUESTION_ID
      Checks the answer read from stdin against the question's key points (progress/grade.py, the
      practice side); with --json one object {"question_id", "score", "points": [{"text", "covered",
      "score", "evidence"}], ...}.
Every JSON object carries "stale": true when the content folder changed since the build (a new draft, a
half-written or broken file, an interrupted ingest), false otherwise. A stale index still answers, from the last
good version, with one warning line on stderr naming the fix; --strict refuses it instead (exit 1). Freshness is
checked once, when the command starts.
A blank answer or query, a missing or damaged index, or an unknown id: one line on stderr, exit 1 (2 for usage).
In pipe mode a bad line gets {"query": …, "error": …} and the next line is still answered.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from . import store
from .errors import QueryError, SearchToolError
from .model import SearchResult
from .results import is_loose, matching_passage, split_loose
from .search import DEFAULT_INDEX, MAX_K, Index, open_index


def result_json(result: SearchResult, stale: bool = False) -> dict:
    first = result.hits[0].score if result.hits else 0.0
    best = {}  # each question's best score: a hit is loosely related when its question is (index.results)
    for h in result.hits:
        best.setdefault(h.question_id, h.score)
    return {
        "query": result.query,
        "stale": stale,
        "no_close_match": result.no_close_match,
        "section_intent": result.section_intent,
        "corrected": result.corrected,
        "corrected_query": result.corrected_query,
        "results": [{
            "question_id": h.question_id, "question": h.question, "section": h.section, "heading": h.heading,
            "text": h.text, "score": round(h.score, 6), "dense_score": round(h.dense_score, 6),
            "lexical_score": round(h.lexical_score, 6), "dense_rank": h.dense_rank, "lexical_rank": h.lexical_rank,
            "matched_terms": list(h.matched_terms), "topics": list(h.topics), "chunk_id": h.chunk_id,
            "loosely_related": h.question_id != result.hits[0].question_id and is_loose(best[h.question_id], first),
        } for h in result.hits],
    }


def _open(args) -> tuple[Index, bool]:
    """The index, and whether its content changed since the build.

    A changed content folder does not stop the answers: the last good version answers and one warning line on
    stderr says what changed and how to update it. With --strict it is refused (IndexStale), as before. A
    missing or damaged index is refused either way.
    """
    if args.strict:
        return open_index(args.index), False
    index = open_index(args.index, check_stale=False)
    stale = store.staleness(index.path, index.manifest)
    if stale is not None:
        print(f"warning: {stale.warning}", file=sys.stderr)
        sys.stderr.flush()
    return index, stale is not None


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _why(hit) -> str:
    why = [f"meaning {hit.dense_score:.2f}"]
    why.append("words: " + ", ".join(hit.matched_terms[:6]) if hit.matched_terms else "no shared words")
    return "; ".join(why)


def _print_readable(index: Index, result: SearchResult) -> None:
    """The results as the app lists them: question by question, its best section with its text, the passage that
    holds the query's other words (index.results), then its other matching sections in a line each; the loosely
    related set apart at the end, a line each."""
    if result.corrected_query:
        print(f"Showing results for: {result.corrected_query}  (you typed: {result.query}; --as-typed searches that)\n")
    if result.no_close_match:
        print("No close match in the bank for this query. The closest questions anyway:\n")
    main, loose = split_loose(result.groups)
    for n, group in enumerate(main, 1):
        best = group.hits[0]
        print(f"{n}. {group.question}  [{group.question_id}]")
        print(f"   {best.heading} · {_why(best)}")
        print(textwrap.indent(textwrap.fill(textwrap.shorten(best.text, 420, placeholder=" …"), 96), "     "))
        passage = matching_passage(index, result, group)
        if passage is not None:
            print(f"   Matching passage, {passage.heading}:")
            print(textwrap.indent(textwrap.fill(f"“{passage.text}”", 96), "     "))
        for hit in group.hits[1:]:
            print(f"   also {hit.heading} · {_why(hit)}")
        print()
    if loose:
        print("Loosely related (far below the first result):")
        for n, group in enumerate(loose, len(main) + 1):
            print(f"{n}. {group.question}  [{group.question_id}] · {group.hits[0].heading} · {_why(group.hits[0])}")


def _search(args, parser) -> int:
    sections = args.section or None
    topics = args.topic or None
    try:
        index, stale = _open(args)
    except SearchToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.query:
        try:
            result = index.search(" ".join(args.query), k=args.k, sections=sections, topics=topics,
                                  repair=not args.as_typed)
        except SearchToolError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        _emit(result_json(result, stale)) if args.json else _print_readable(index, result)
        return 0
    # pipe mode: answer each line as soon as it is read
    stdin = sys.stdin.buffer
    while True:
        raw = stdin.readline()
        if not raw:
            return 0
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        try:
            _emit(result_json(index.search(line, k=args.k, sections=sections, topics=topics, repair=not args.as_typed),
                              stale))
        except QueryError as exc:
            _emit({"query": line, "stale": stale, "error": str(exc), "no_close_match": True, "results": []})
        except SearchToolError as exc:  # the model or index cannot answer any line: one clear line, no traceback
            print(f"error: {exc}", file=sys.stderr)
            return 1


def _related(args, parser) -> int:
    try:
        index, stale = _open(args)
        ids = args.question_id or [q.id for q in index.questions]
        rows = [(qid, index.related(qid, k=args.k)) for qid in ids]
    except SearchToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for qid, related in rows:
        if args.json:
            _emit({"question_id": qid, "stale": stale, "related": [
                {"question_id": r.question_id, "question": r.question, "score": round(r.score, 6)} for r in related]})
        else:
            print(f"{index.question(qid).title}  [{qid}]")
            for r in related:
                print(f"   {r.score:.3f}  {r.question}  [{r.question_id}]")
    return 0


def _grade(args, parser) -> int:
    # The answer check belongs to the practice side (progress/), which reads the index; the index never imports it
    # at module level, so `import index` stays free of the practice package and there is no import cycle. The
    # command is kept here, where README and docs/grading.md document it, and hands over to it when run.
    from progress.grade import Grader, report

    answer = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    try:
        index, stale = _open(args)
        result = Grader(index).grade(args.question_id, answer)
    except SearchToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _emit({**result.to_json(), "stale": stale}) if args.json else print(report(result))
    return 0


def _positive(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"k must be from 1 to {MAX_K}")
    return k


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    parser = argparse.ArgumentParser(prog="python -m index", description="Search the ML interview question bank.")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("search", help="search the bank (no query: read one per line from stdin)")
    s.add_argument("query", nargs="*", metavar="QUERY")
    s.add_argument("--json", action="store_true", help="one JSON object per query")
    s.add_argument("--k", type=_positive, default=5, help="section hits to return (default: %(default)s)")
    s.add_argument("--index", default=str(DEFAULT_INDEX), help="index folder (default: %(default)s)")
    s.add_argument("--section", action="append", metavar="KIND",
                   help="only this section kind (short, explanation, example, mistakes, story); repeatable")
    s.add_argument("--topic", action="append", metavar="TOPIC", help="only questions with this topic; repeatable")
    s.add_argument("--as-typed", action="store_true", help="search the words as typed, without repairing typos")
    r = sub.add_parser("related", help="questions related to a question (no id: every question)")
    r.add_argument("question_id", nargs="*", metavar="QUESTION_ID")
    r.add_argument("--json", action="store_true", help="one JSON line per question")
    r.add_argument("--k", type=_positive, default=3, help="related questions per question (default: %(default)s)")
    r.add_argument("--index", default=str(DEFAULT_INDEX), help="index folder (default: %(default)s)")
    g = sub.add_parser("grade", help="check an answer (read from stdin) against a question's key points")
    g.add_argument("question_id", metavar="QUESTION_ID")
    g.add_argument("--json", action="store_true", help="one JSON object")
    g.add_argument("--index", default=str(DEFAULT_INDEX), help="index folder (default: %(default)s)")
    for command in (s, r, g):
        command.add_argument("--strict", action="store_true",
                             help="refuse an index older than its content (exit 1) instead of answering from it "
                                  "with a warning")
    args = parser.parse_args(argv)
    try:
        return {"search": _search, "related": _related, "grade": _grade}[args.command](args, parser)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
