"""Score fusion: every leg's evidence at the candidates, standardised and summed into one score per section.

Each leg's evidence is standardised over the candidates (z-scores), so neither leg's scale dominates and a
clear winner in one leg counts for more than a rank would say. A question scores its best section in each leg,
its best sentences, its best name and how much of the query it holds across its sections (plus its title field
when weighted); a section scores its question plus
its own evidence, so the right question comes first and, in it, the right section. A query that asks for a kind
of section lifts that kind without hiding the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def standardise(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std, or zeros when x does not vary (a leg with no evidence adds nothing)."""
    std = float(x.std()) if len(x) else 0.0
    return (x - x.mean()) / std if std > 1e-9 else np.zeros_like(x)


def segment_max(values: np.ndarray, counts: np.ndarray, floor: float) -> np.ndarray:
    """max(floor, the largest value) of each run of `values` (run i holds counts[i] values, in order), float64;
    `floor` for an empty run. What `np.maximum.at` gives for owners in runs, in one reduction."""
    out = np.full(len(counts), floor, dtype=np.float64)
    filled = counts > 0
    if filled.any():
        starts = np.cumsum(counts) - counts
        out[filled] = np.maximum(floor, np.maximum.reduceat(values, starts[filled]))
    return out


def top_mean(cos: np.ndarray, counts: np.ndarray, top: int) -> np.ndarray:
    """Per run of `cos` (run i holds counts[i] cosines: one owner's), the mean of its `top` best cosines, -1 for an
    empty run: several sentences agreeing say more than one lucky sentence. The best are summed best first."""
    n = len(counts)
    out = np.full(n, -1.0)
    width = int(counts.max()) if n else 0
    if width == 0:
        return out
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(n), counts)
    if n * width <= 4 * len(cos) + 4096:  # one row per owner, its cosines padded with -inf, each row sorted
        grid = np.full((n, width), -np.inf, dtype=np.float64)
        grid[owner, np.arange(len(cos)) - starts[owner]] = cos
        best = -np.sort(-grid, axis=1)[:, :top]
    else:  # an owner far longer than the rest: one sort of every cosine instead of a mostly empty grid
        order = np.lexsort((-cos, owner))
        rank = np.arange(len(cos)) - starts[owner[order]]
        best = np.full((n, top), -np.inf)
        first = rank < top
        best[owner[order][first], rank[first]] = cos[order][first]
    taken = np.isfinite(best)
    total = np.zeros(n)
    for j in range(best.shape[1]):
        total += np.where(taken[:, j], best[:, j], 0.0)
    count = taken.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), -1.0)


def ranks(order: np.ndarray) -> dict[int, int]:
    """{row: rank (1-based)} for the rows in `order` (a dict, not arrays the size of the bank)."""
    return dict(zip(order.tolist(), range(1, len(order) + 1)))


@dataclass(frozen=True, eq=False)
class Evidence:
    """Every leg's evidence at the candidate rows. The rows run question by question in the order of the candidate
    questions: `pos` is each row's candidate question, `per_question` each candidate question's number of rows."""

    pos: np.ndarray
    per_question: np.ndarray
    section_cos: np.ndarray  # float64, per row: cosine of the query and the section
    row_lex: np.ndarray  # float64, per row: BM25 of the section
    sentence_cos: np.ndarray  # the cosines of every row's sentences, row by row
    sentence_counts: np.ndarray  # per row: its number of sentences
    name_cos: np.ndarray  # the cosines of every candidate question's names, question by question
    name_counts: np.ndarray  # per candidate question: its number of names
    title_cos: np.ndarray  # per candidate question (only the title leg's best rows when w_title_dense is 0)
    title_lex: np.ndarray  # per candidate question: BM25 of title + aliases + topics
    asked: bool  # the query asked for a kind of section: `first_rows` are that kind (else the short answers)
    first_rows: np.ndarray  # per row: True for the section a result opens on (the kind asked for, else short)
    named: np.ndarray  # per candidate question: True when the query contains one of its names
    coverage: np.ndarray  # per candidate question: idf-weighted share of the query's stems found anywhere in it


@dataclass(frozen=True, eq=False)
class Fused:
    """The fused scores, and the per-question evidence the no-match model reads."""

    scores: np.ndarray  # per row: the section's fused score
    question_score: np.ndarray  # per candidate question
    best_cos: np.ndarray  # per candidate question: its best section cosine
    row_sentence: np.ndarray  # per row: its best sentence cosine
    name_cos: np.ndarray  # per candidate question: its best name cosine
    best_lex: np.ndarray  # per candidate question: its best section BM25
    best_sentence: np.ndarray  # per candidate question: the mean cosine of its best `sentence_top` sentences


def fuse(cfg, ev: Evidence) -> Fused:
    """The weighted sum of the standardised evidence (weights: a SearchConfig)."""
    row_sentence = segment_max(ev.sentence_cos, ev.sentence_counts, -1.0)
    name_cos = segment_max(ev.name_cos, ev.name_counts, -1.0)
    best_cos = segment_max(ev.section_cos, ev.per_question, -1.0)
    best_lex = segment_max(ev.row_lex, ev.per_question, 0.0)
    sentences_per_question = np.bincount(ev.pos, weights=ev.sentence_counts, minlength=len(ev.per_question))
    best_sentence = top_mean(ev.sentence_cos, sentences_per_question.astype(np.int64), cfg.sentence_top)
    question_score = (cfg.w_dense * standardise(best_cos) + cfg.w_lexical * standardise(best_lex)
                      + cfg.w_sentence * standardise(best_sentence)
                      + cfg.w_names * standardise(name_cos))
    if cfg.w_title_dense:
        question_score += cfg.w_title_dense * standardise(ev.title_cos.astype(np.float64))
    if cfg.w_title_lexical:
        question_score += cfg.w_title_lexical * standardise(ev.title_lex.astype(np.float64))
    if cfg.w_coverage:
        question_score += cfg.w_coverage * standardise(ev.coverage)
    section_score = (cfg.w_dense * standardise(ev.section_cos) + cfg.w_lexical * standardise(ev.row_lex)
                     + cfg.w_section_sentence * standardise(row_sentence))
    if cfg.w_named:
        question_score = question_score + cfg.w_named * ev.named
    scores = question_score[ev.pos] + cfg.section_weight * section_score
    if ev.asked:
        scores = scores + cfg.intent_boost * ev.first_rows
    scores = lift_first(scores, ev.first_rows, ev.per_question)
    return Fused(scores, question_score, best_cos, row_sentence, name_cos, best_lex, best_sentence)


def lift_first(scores: np.ndarray, first_rows: np.ndarray, per_question: np.ndarray) -> np.ndarray:
    """Each question's `first_rows` section scored just above the question's best section, so a result opens on
    the section the query asked for (or the short answer) while the questions keep their order."""
    if not first_rows.any():
        return scores
    best = segment_max(scores, per_question, -np.inf)
    owner = np.repeat(np.arange(len(per_question)), per_question)
    return np.where(first_rows, np.maximum(scores, np.nextafter(best[owner], np.inf)), scores)
