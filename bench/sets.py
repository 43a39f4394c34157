"""The evaluation banks: which questions, which queries, which related lists.

Two banks are measured side by side:

* ``seed`` — the user's 15 questions (content/), bench/queries.yaml and bench/related.jsonl.
* ``large`` — the same 15 plus the 46 evaluation questions of bench/banks/large/questions/ (written for
  evaluation, not the user's: they never go into content/). Its queries are bench/queries.yaml relabelled
  for the larger bank (relabel-*.yaml: a new question that answers a query as well is added to what it
  accepts; relabel-offtopic.yaml turns the seed's off-topic queries that a new question answers into real
  ones) plus queries-a.yaml and queries-b.yaml; its related lists are related-a/b.jsonl.

Both banks also read bench/banks/descriptions.yaml (style ``description``): concepts described in words of
their own by an author who had read only the 61 question titles, never the bank's answers nor the other queries.
Each entry lists its answers in the seed bank (``expect``, only for the seed's 15 questions) and in the larger
bank (``expect_large``); the seed bank reads the entries that have ``expect``, the larger bank every entry.

Both banks' queries are split into dev and test by the same hash of the query text (bench/eval.py
`split_of`), so a query shared by the two banks is in the same part in both.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from .eval import Query, load_queries, split_of

ROOT = Path(__file__).resolve().parent.parent
SEED_CONTENT = ROOT / "content"
SEED_QUERIES = ROOT / "bench" / "queries.yaml"
SEED_RELATED = ROOT / "bench" / "related.jsonl"
LARGE = ROOT / "bench" / "banks" / "large"
DESCRIPTIONS = ROOT / "bench" / "banks" / "descriptions.yaml"
BANKS = ("seed", "large")


@dataclass(frozen=True)
class EvalBank:
    name: str
    content: Path  # the folder to ingest
    queries: tuple[Query, ...]
    related: tuple[dict, ...]  # {"question", "related", "split"}
    question_ids: frozenset[str]

    @property
    def label(self) -> str:
        return f"{len(self.question_ids)}-question bank"


def _ids(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.md") if not p.name.startswith((".", "_"))}


def _related(paths: list[Path], ids: set[str]) -> tuple[dict, ...]:
    rows = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            unknown = [q for q in [row["question"], *row["related"]] if q not in ids]
            if unknown:
                raise ValueError(f"{path.name}:{n}: unknown question id {unknown[0]!r}")
            rows.append({**row, "split": split_of(row["question"])})
    seen = [r["question"] for r in rows]
    if len(seen) != len(set(seen)):
        raise ValueError(f"a question has two related lists in {', '.join(p.name for p in paths)}")
    return tuple(rows)


def _with_descriptions(queries: list[Query], ids: set[str], section_keys: set[str], expect_key: str) -> list[Query]:
    """`queries` plus the description queries labelled for this bank (`expect_key`); a query already asked is
    refused (ValueError), so no query counts twice."""
    seen = {q.q.lower() for q in queries}
    out = list(queries)
    for q in load_queries(DESCRIPTIONS, ids, section_keys, expect_key=expect_key, only_labelled=True):
        if q.q.lower() in seen:
            raise ValueError(f"{DESCRIPTIONS.name}: {q.q!r} is already a query of this bank")
        seen.add(q.q.lower())
        out.append(q)
    return out


def seed_bank(section_keys: set[str]) -> EvalBank:
    ids = _ids(SEED_CONTENT)
    queries = _with_descriptions(load_queries(SEED_QUERIES, ids, section_keys), ids, section_keys, "expect")
    return EvalBank("seed", SEED_CONTENT, tuple(queries), _related([SEED_RELATED], ids), frozenset(ids))


def assemble_large_content(target: Path) -> Path:
    """The larger bank's content folder: content/ and bench/banks/large/questions/ copied side by side into
    `target` (replaced). Raises ValueError when an evaluation question has the id of one of the user's."""
    sources = [SEED_CONTENT, LARGE / "questions"]
    clash = _ids(sources[0]) & _ids(sources[1])
    if clash:
        raise ValueError(f"bench/banks/large/questions/ reuses ids of content/: {', '.join(sorted(clash))}")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for folder in sources:
        for path in sorted(folder.glob("*.md")):
            if not path.name.startswith((".", "_")):
                shutil.copy2(path, target / path.name)
    return target


def _relabelled(seed: list[Query], ids: set[str], section_keys: set[str]) -> list[Query]:
    """bench/queries.yaml as the larger bank reads it (see the module docstring)."""
    by_text = {q.q: q for q in seed}
    also: dict[str, list[str]] = {}
    for path in sorted(LARGE.glob("relabel-[a-z].yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["relabel"]:
            if entry["q"] not in by_text:
                raise ValueError(f"{path.name}: {entry['q']!r} is not a query of bench/queries.yaml")
            also.setdefault(entry["q"], []).extend(entry["also"])
    replaced = {}
    path = LARGE / "relabel-offtopic.yaml"
    for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["relabel"]:
        original = by_text.get(entry["q"])
        if original is None or not original.offtopic:
            raise ValueError(f"{path.name}: {entry['q']!r} is not an off-topic query of bench/queries.yaml")
        replaced[entry["q"]] = dataclasses.replace(original, style=entry["style"], expect=tuple(entry["expect"]),
                                                   section=entry.get("section"))
    out = []
    for q in seed:
        q = replaced.get(q.q, q)
        if q.q in also:
            q = dataclasses.replace(q, expect=tuple(dict.fromkeys([*q.expect, *also[q.q]])))
        bad = [e for e in q.expect if e not in ids] + ([q.section] if q.section and q.section not in section_keys
                                                       else [])
        if bad:
            raise ValueError(f"relabelled query {q.q!r}: unknown id or section {bad[0]!r}")
        out.append(q)
    return out


def large_bank(section_keys: set[str], workdir: Path) -> EvalBank:
    """The larger bank, its content assembled under `workdir`/content."""
    content = assemble_large_content(workdir / "content")
    ids = _ids(content)
    seed = load_queries(SEED_QUERIES, _ids(SEED_CONTENT), section_keys)
    queries = _relabelled(seed, ids, section_keys)
    seen = {q.q.lower() for q in queries}
    for path in sorted(LARGE.glob("queries-*.yaml")):
        for q in load_queries(path, ids, section_keys):
            if q.q.lower() in seen:
                raise ValueError(f"{path.name}: {q.q!r} is already a query of the larger bank")
            seen.add(q.q.lower())
            queries.append(q)
    queries = _with_descriptions(queries, ids, section_keys, "expect_large")
    return EvalBank("large", content, tuple(queries), _related(sorted(LARGE.glob("related-*.jsonl")), ids),
                    frozenset(ids))
