"""How far the evidence we have can take question ranking: a learned ranker's ceiling on both banks.

    python -m bench ceiling          # builds each bank's indexes once (~10 min), then ~3 min

The search ranks questions by a hand-weighted sum of standardised evidence (index/fusion.py). This asks what any
ranker over the same evidence could reach, and what two further signals give. Per real query, the search's
candidate questions (the index's model), each with

* the index's own evidence (`Index.question_evidence`: best section, sentence and name cosines, title cosine,
  section and title BM25, a name typed, query coverage), standardised over the candidates as fusion does;
* the other installable model's best section cosine, mean of its best three sentence cosines and best name cosine
  (all-MiniLM-L6-v2 beside all-mpnet-base-v2, and the reverse), from an index of the same bank built with that
  model (exact, every row), standardised alike: the two models fused;
* a classifier of the bank's own: a logistic regression over the index's section, sentence, name and title
  vectors, each labelled with its question (the bank's text only, never a query), its logit for each candidate,
  standardised alike: the bank's questions told apart by what their texts do not share.

Two rankers are fitted on the dev queries of both banks pooled and read on dev (in the fit: an optimistic bound)
and on test (held out): a linear one (pairwise logistic regression: the right question against each wrong
candidate) and gradient-boosted trees (scikit-learn, pointwise). A query counts right when its top-scored candidate
is one it accepts; a query whose accepted question is not a candidate is wrong for every ranker alike. The same
count for the search's own fused score is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from index.embed import MINILM, MPNET
from index.fusion import standardise

from .eval import LARGE_WORK, ROOT

OTHER_MODEL = {MPNET.name: MINILM, MINILM: MPNET.name}  # the model fused beside the index's own


def other_index(bank: str, model: str) -> Path:
    """Where the other model's index of a bank is built (generated, under build/eval)."""
    short = "mpnet" if model == MPNET.name else "minilm"
    return ROOT / "build" / "eval" / f"seed-{short}" if bank == "seed" else LARGE_WORK / f"index-{short}"


OWN = ("section cosine", "section bm25", "sentence cosine", "name cosine", "title cosine", "title bm25",
       "name typed", "coverage")
OTHER_FEATURES = ("other model's section cosine", "other model's sentence cosine", "other model's name cosine")
CLASSIFIER = ("bank classifier logit",)
FEATURE_SETS = {
    "the index's own, as fused now": ("section cosine", "section bm25", "sentence cosine", "name cosine",
                                      "name typed", "coverage"),
    "every field of the index's own": OWN,
    "every field + the other model's cosines": OWN + OTHER_FEATURES,
    "every field + the bank classifier": OWN + CLASSIFIER,
    "every field + both": OWN + OTHER_FEATURES + CLASSIFIER,
}


class BankClassifier:
    """A logistic regression over a bank's own vectors (sections, sentences, names, titles), each labelled with its
    question: per candidate question, its logit for a query."""

    def __init__(self, idx):
        from sklearn.linear_model import LogisticRegression

        x = np.vstack([np.asarray(v, dtype=np.float32) for v in
                       (idx.vectors, idx.sentence_vectors, idx.name_vectors, idx.title_vectors)])
        y = np.concatenate([idx.chunk_question, idx.chunk_question[idx.sentence_chunk], idx.name_question,
                            np.arange(len(idx.questions))])
        model = LogisticRegression(C=10.0, max_iter=500).fit(x, y)
        self.idx, self.weights, self.bias = idx, model.coef_.astype(np.float32), model.intercept_
        self.row = {int(c): i for i, c in enumerate(model.classes_)}

    def features(self, text: str, ids: list[str]) -> np.ndarray:
        logits = self.weights @ self.idx.embed_query(text) + self.bias
        return np.array([[logits[self.row[self.idx.question_row[q]]]] for q in ids], dtype=np.float64)


class ModelCosines:
    """Another model's per-question cosines over a whole bank, exact."""

    def __init__(self, idx):
        self.idx = idx
        self.row = idx.question_row
        self.sections = np.asarray(idx.vectors, dtype=np.float32)
        self.sentences = np.asarray(idx.sentence_vectors, dtype=np.float32)
        self.names = np.asarray(idx.name_vectors, dtype=np.float32)
        self.sentence_question = idx.chunk_question[idx.sentence_chunk]

    def features(self, text: str, ids: list[str]) -> np.ndarray:
        v = self.idx.embed_query(text)
        sec, sen, nam = self.sections @ v, self.sentences @ v, self.names @ v
        out = []
        for qid in ids:
            i = self.row[qid]
            best3 = np.sort(sen[self.sentence_question == i])[::-1][:3]
            out.append([sec[self.idx.chunk_question == i].max(), best3.mean(), nam[self.idx.name_question == i].max()])
        return np.array(out, dtype=np.float64)


def collect(bank, idx, other: ModelCosines, classifier: BankClassifier) -> list[dict]:
    """Per real query: its candidates, their standardised features by name, which are right, and its style/split."""
    rows = []
    for q in bank.queries:
        if q.offtopic:
            continue
        ids, evidence = idx.question_evidence(q.q)
        if not ids:
            rows.append({"query": q, "ids": [], "features": {}, "right": np.zeros(0, dtype=bool)})
            continue
        feats = {name: (evidence[name] if name == "name typed" else standardise(evidence[name])) for name in OWN}
        feats["fused"] = evidence["fused"]
        m = other.features(q.q, ids)
        feats.update({name: standardise(m[:, j]) for j, name in enumerate(OTHER_FEATURES)})
        feats[CLASSIFIER[0]] = standardise(classifier.features(q.q, ids)[:, 0])
        rows.append({"query": q, "ids": ids, "features": feats,
                     "right": np.array([i in q.expect for i in ids], dtype=bool)})
    return rows


def matrix(row: dict, names: tuple[str, ...]) -> np.ndarray:
    return np.stack([row["features"][n] for n in names], axis=1)


def fit_pairwise(rows: list[dict], names: tuple[str, ...], l2: float = 1.0, steps: int = 30) -> np.ndarray:
    """Linear weights from a pairwise logistic regression: each query's best-scored right candidate (by the fused
    score) against each of its wrong ones."""
    diffs = []
    for row in rows:
        if not row["right"].any() or row["right"].all():
            continue
        x = matrix(row, names)
        right = np.flatnonzero(row["right"])
        best = right[np.argmax(row["features"]["fused"][right])]
        diffs.append(x[best] - x[~row["right"]])
    d = np.vstack(diffs)
    w = np.zeros(d.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(d @ w, -50, 50)))
        grad = -(d * (1 - p)[:, None]).mean(axis=0) + l2 * w / len(d)
        hess = (d * (p * (1 - p))[:, None]).T @ d / len(d) + l2 * np.eye(len(w)) / len(d)
        w -= np.linalg.solve(hess, grad)
    return w


def fit_trees(rows: list[dict], names: tuple[str, ...]):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.vstack([matrix(r, names) for r in rows if r["ids"]])
    y = np.concatenate([r["right"] for r in rows if r["ids"]])
    return HistGradientBoostingClassifier(max_depth=2, max_iter=100, learning_rate=0.05, l2_regularization=1.0,
                                          random_state=0).fit(x, y)


def rates(rows: list[dict], score) -> tuple[float, float]:
    """(hit@1, paraphrase hit@1) when each query's candidates are scored by score(row)."""
    hits, para = [], []
    for row in rows:
        ok = bool(row["ids"]) and bool(row["right"][int(np.argmax(score(row)))])
        hits.append(ok)
        if row["query"].style == "paraphrase":
            para.append(ok)
    return float(np.mean(hits)), float(np.mean(para)) if para else float("nan")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ceiling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default=str(ROOT / "build" / "index"), help="the seed bank's index (content/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    from index import open_index
    from ingest.build import build

    from .sets import large_bank, seed_bank

    seed_idx = open_index(args.index)
    keys = set(seed_idx.sections)
    banks = {"seed": seed_bank(keys), "large": large_bank(keys, LARGE_WORK)}
    data = {}
    for name, bank in banks.items():
        if name == "seed":
            idx = seed_idx
        else:
            report = build(bank.content, LARGE_WORK / "index", model=seed_idx.manifest["model"]["source"])
            print(f"{bank.label}: {report.summary()}", file=sys.stderr)
            idx = open_index(LARGE_WORK / "index")
        other = OTHER_MODEL[idx.model_name]
        report = build(bank.content, other_index(name, other), model=other)
        print(f"{bank.label}, {other}: {report.summary()}", file=sys.stderr)
        data[bank.label] = collect(bank, idx, ModelCosines(open_index(other_index(name, other))),
                                   BankClassifier(idx))
    dev = [r for rows in data.values() for r in rows if r["query"].split == "dev"]

    def part(label, split):
        return [r for r in data[label] if r["query"].split == split]

    columns = [(label, split) for label in data for split in ("dev", "test")]
    print(f"hit@1 / paraphrase hit@1 over the search's candidates ({seed_idx.model_name} candidates, "
          f"{OTHER_MODEL[seed_idx.model_name]} the other model; fitted on dev of both banks: dev figures are in the "
          f"fit)\n")
    print("| ranker | evidence | " + " | ".join(f"{label} {split}" for label, split in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    cells = [rates(part(*c), lambda r: r["features"]["fused"]) for c in columns]
    print("| the search's fused score | as shipped | " + " | ".join(f"{a:.3f} / {b:.3f}" for a, b in cells) + " |")
    for title, names in FEATURE_SETS.items():
        w = fit_pairwise(dev, names)
        cells = [rates(part(*c), lambda r: matrix(r, names) @ w) for c in columns]
        print(f"| linear (pairwise logistic) | {title} | " + " | ".join(f"{a:.3f} / {b:.3f}" for a, b in cells) + " |")
        model = fit_trees(dev, names)
        cells = [rates(part(*c), lambda r: model.predict_proba(matrix(r, names))[:, 1]) for c in columns]
        print(f"| boosted trees | {title} | " + " | ".join(f"{a:.3f} / {b:.3f}" for a, b in cells) + " |")
    reach = [float(np.mean([bool(r["right"].any()) for r in part(*c)])) for c in columns]
    print("| any candidate right (recall of the candidates) | | " + " | ".join(f"{x:.3f}" for x in reach) + " |")
    return 0
