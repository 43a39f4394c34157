"""How well the answer check (progress/grade.py) agrees with two labelled sets of answers, side by side.

    python -m bench.grading                          # both sets, both halves, grader and baseline: docs/grading.md
    python -m bench.grading --index build/index-mpnet   # the same with another index's model
    python -m bench.grading --split dev --misses     # tuning loop: dev only, with the points it gets wrong
    python -m bench.grading --split dev --config covered=0.6 mistake=0.65
    python -m bench.grading --fit                    # refit the per-point model on both sets' dev halves
    python -m bench.grading --json                   # one JSON object
    python -m bench.grading --speed build/index build/index-mpnet   # p50 of one grade, the indexes alternated

The sets: A (bench/grading/answers.yaml, written beside the check) and B (bench/grading/answers-b.yaml, written
by another author who read only content/, not the check nor set A). Both have the same shape.

Measures, per set and half (dev = tuned on, test = held out by the question id's hash, as bench/eval.py splits
queries):
  AUC strong vs other, strong vs partial, strong vs misconception: the chance that a strong answer scores above
      an answer of the other kind, over every pair of the half (ties count a half);
  agreement: the share of (answer, labelled point) pairs where the grader's covered/missed equals the label,
      grading against the labelled points;
  with the grader's own key points (what the app and the CLI use) the same AUCs, and the share of labelled
      points that one of its points contains or overlaps.
The baseline is the issue's: each model-answer sentence (Short answer and Explanation) gets its best cosine
with the answer's sentences, averaged.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
SETS = {"A": ROOT / "bench" / "grading" / "answers.yaml", "B": ROOT / "bench" / "grading" / "answers-b.yaml"}
ANSWERS = SETS["A"]
TARGETS = {"auc_strong_vs_other": 0.98, "auc_strong_vs_partial": 0.95, "auc_strong_vs_misconception": 0.85}
AGREEMENT_TARGETS = {"all": 0.85, "strong": 0.80}  # per-point agreement: on every answer, on strong answers
KINDS = ("strong", "terse", "partial", "other", "misconception")
PAIRS = (("strong", "other"), ("strong", "partial"), ("strong", "misconception"))


@dataclass(frozen=True)
class LabelledAnswer:
    question_id: str
    kind: str
    text: str
    covers: frozenset[int]
    split: str


@dataclass(frozen=True)
class LabelledQuestion:
    id: str
    points: tuple[str, ...]
    answers: tuple[LabelledAnswer, ...]
    split: str
    source: str = ""  # the labelled set's file name, without .yaml


def split_of(question_id: str) -> str:
    """'test' when the first byte of sha256(question id) is odd, else 'dev' (the rule of bench/eval.py)."""
    return "test" if hashlib.sha256(question_id.encode("utf-8")).digest()[0] % 2 else "dev"


def load_answers(index, path: Path = ANSWERS) -> list[LabelledQuestion]:
    """Read and check the labelled set against the index's questions. Raises ValueError naming the bad entry."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    out = []
    for qid, item in raw.items():
        q = index.question(qid)
        model = " ".join(s.text for s in q.sections if s.key in ("short", "explanation"))
        points = tuple(item["points"])
        for n, point in enumerate(points):
            if point not in model:
                raise ValueError(f"{path.name}: {qid} point {n} is not verbatim in its Short answer or Explanation")
        answers = []
        for n, a in enumerate(item["answers"]):
            covers = frozenset(a["covers"])
            problems = [p for p, bad in [
                (f"unknown kind {a['kind']!r}", a["kind"] not in KINDS),
                ("covers a point that does not exist", any(not 0 <= c < len(points) for c in covers)),
                ("a partial answer covers some points, not none and not all",
                 a["kind"] == "partial" and not 0 < len(covers) < len(points)),
                ("an answer to another question covers nothing here", a["kind"] == "other" and covers),
                ("`from` must name another question", a["kind"] == "other" and a.get("from") in (None, qid)),
            ] if bad]
            if problems:
                raise ValueError(f"{path.name}: {qid} answer {n}: {problems[0]}")
            answers.append(LabelledAnswer(qid, a["kind"], " ".join(a["text"].split()), covers, split_of(qid)))
        missing = [k for k in KINDS if not any(a.kind == k for a in answers)]
        if missing:
            raise ValueError(f"{path.name}: {qid} has no {', '.join(missing)} answer")
        out.append(LabelledQuestion(qid, points, tuple(answers), split_of(qid), path.stem))
    return out


def auc(positive: list[float], negative: list[float]) -> float:
    """P(a positive scores above a negative), ties a half."""
    if not positive or not negative:
        return float("nan")
    p, n = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def baseline_score(index, question_id: str, answer: str, embed=None) -> float:
    """The issue's baseline: each model-answer sentence's best cosine to the answer's sentences, averaged."""
    from progress.claims import split_sentences

    q = index.question(question_id)
    model = [s for sec in q.sections if sec.key in ("short", "explanation") for s in split_sentences(sec.text)]
    mine = split_sentences(answer) or [answer]
    embed = embed or CachedEmbedder(index)
    mv, av = embed(model), embed(mine)
    return float((mv @ av.T).max(axis=1).mean())


def _overlaps(point: str, model_text: str, auto: list[str]) -> bool:
    start = model_text.find(point)
    span = set(range(start, start + len(point)))
    for a in auto:
        s = model_text.find(a)
        if s >= 0 and len(span & set(range(s, s + len(a)))) >= 0.5 * len(point):
            return True
    return False


class CachedEmbedder:
    """The index's query vectors, kept for the whole run: a fit and the evaluation after it embed each text once."""

    def __init__(self, index):
        self.index = index
        self.vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            self.vectors.update(zip(missing, self.index.embed_queries(missing)))
        return np.vstack([self.vectors[t] for t in texts])


def fit(index, questions: list[LabelledQuestion], embed=None, config=None) -> dict:
    """The per-point model's weights and bias, fitted by logistic regression on every (answer, labelled point)
    pair of `questions` (the dev halves only: the caller passes them), with `config`'s other settings (default:
    the model's own). Returns GradeConfig fields."""
    from sklearn.linear_model import LogisticRegression

    from progress.grade import Grader, config_for

    grader = Grader(index, config or config_for(index.model_name), embed=embed)
    xs, ys, groups = [], [], []
    for lq in questions:
        for a in lq.answers:
            x, *_ = grader.features(lq.id, a.text, list(lq.points))
            xs.append(x.T)
            ys += [i in a.covers for i in range(len(lq.points))]
            groups += [(lq.source, a.kind == "strong")] * len(lq.points)
    x, y = np.vstack(xs), np.array(ys)
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
    weights = tuple(round(float(w), 4) for w in model.coef_[0])
    bias = round(float(model.intercept_[0]), 4)
    return {"weights": weights, "bias": bias, "covered": covered_threshold(model.predict_proba(x)[:, 1], y, groups)}


def covered_threshold(chance: np.ndarray, label: np.ndarray, groups: list[tuple[str, bool]]) -> float:
    """The chance at which a point counts as covered: the one, on a 0.05 grid from 0.30 to 0.60, furthest above
    the bar on both agreements (the best mean, over the sets, of the lesser of agreement − 0.85 and agreement on
    strong answers − 0.80). A likelihood fit weighs the many easy points of partial and off-topic answers; the
    bar weighs a strong answer's points as well."""
    sets = sorted({g[0] for g in groups})
    strong = np.array([g[1] for g in groups])
    in_set = {name: np.array([g[0] == name for g in groups]) for name in sets}

    def quality(t: float) -> float:
        ok = (chance >= t) == label
        return float(np.mean([min(ok[m].mean() - AGREEMENT_TARGETS["all"], ok[m & strong].mean()
                                  - AGREEMENT_TARGETS["strong"]) for m in in_set.values()]))

    grid = [round(0.30 + 0.05 * i, 2) for i in range(7)]
    return max(grid, key=lambda t: (quality(t), -abs(t - 0.5)))


def evaluate(index, questions: list[LabelledQuestion], config=None, misses: bool = False, embed=None) -> dict:
    """Every figure for one half: grader (labelled points and its own), baseline, timings."""
    from progress.grade import Grader

    grader = Grader(index, config, embed=embed)
    scores = {"grader": {k: [] for k in KINDS}, "grader_own_points": {k: [] for k in KINDS},
              "baseline": {k: [] for k in KINDS}}
    agree = total = 0
    by_kind = {k: [0, 0] for k in KINDS}
    recall_hit = recall_n = 0
    times = []
    wrong = []
    for lq in questions:
        q = index.question(lq.id)
        model_text = " ".join(s.text for s in q.sections if s.key in ("short", "explanation"))
        own = grader.key_points(lq.id)
        for p in lq.points:
            recall_n += 1
            recall_hit += _overlaps(p, model_text, own)
        for a in lq.answers:
            t0 = time.perf_counter()  # the answer's parts are new here; the question's points are cached
            g = grader.grade(lq.id, a.text, points=list(lq.points))
            times.append(time.perf_counter() - t0)
            own_grade = grader.grade(lq.id, a.text)
            scores["grader"][a.kind].append(g.score)
            scores["grader_own_points"][a.kind].append(own_grade.score)
            scores["baseline"][a.kind].append(baseline_score(index, lq.id, a.text, embed))
            for i, p in enumerate(g.points):
                ok = p.covered == (i in a.covers)
                agree += ok
                total += 1
                by_kind[a.kind][0] += ok
                by_kind[a.kind][1] += 1
                if not ok:
                    wrong.append({"question_id": lq.id, "kind": a.kind, "point": i, "label": i in a.covers,
                                  "score": round(p.score, 3), "evidence": p.evidence})
            if g.misconceptions and misses:
                wrong.append({"question_id": lq.id, "kind": a.kind, "misconceptions": [
                    (m.mistake, m.evidence, round(m.score, 3)) for m in g.misconceptions]})
    out = {"questions": len(questions), "answers": sum(len(q.answers) for q in questions)}
    for system, by in scores.items():
        out[system] = {f"auc_{a}_vs_{b}": round(auc(by[a], by[b]), 4) for a, b in PAIRS}
        out[system]["mean_score"] = {k: round(float(np.mean(v)), 3) for k, v in by.items() if v}
    out["grader"]["agreement"] = round(agree / total, 4) if total else float("nan")
    out["grader"]["agreement_by_kind"] = {k: round(a / n, 3) for k, (a, n) in by_kind.items() if n}
    out["grader_own_points"]["labelled_points_overlapped"] = round(recall_hit / recall_n, 4) if recall_n else 0.0
    out["grade_ms"] = {"p50": round(1000 * float(np.median(times)), 1), "max": round(1000 * max(times), 1)}
    if misses:
        out["misses"] = wrong
    return out




def report(results: dict) -> str:
    """The figures as text: for each half, one column group per set (grader on the labelled points, grader on its
    own points, baseline), then the targets."""
    sets = list(results)
    lines = []
    for split in next(iter(results.values())):
        runs = {name: results[name][split] for name in sets}
        lines.append(f"{split}: " + "; ".join(
            f"set {n} {r['questions']} questions, {r['answers']} answers, a grade {r['grade_ms']['p50']} ms p50 "
            f"(max {r['grade_ms']['max']})" for n, r in runs.items()))
        lines.append(f"  {'':30}" + "".join(f"{'set ' + n + ': grader':>16}{'own pts':>9}{'baseline':>9}" for n in sets)
                     + "   target")
        for key, target in TARGETS.items():
            lines.append(f"  {key:30}" + "".join(
                f"{r['grader'][key]:16.3f}{r['grader_own_points'][key]:9.3f}{r['baseline'][key]:9.3f}"
                for r in runs.values()) + f"   ≥ {target}")
        for kind, target in AGREEMENT_TARGETS.items():
            lines.append(f"  {'per-point agreement, ' + kind:30}" + "".join(
                f"{r['grader']['agreement'] if kind == 'all' else r['grader']['agreement_by_kind']['strong']:16.3f}"
                f"{'':18}" for r in runs.values()) + f"   ≥ {target}")
        for n, r in runs.items():
            lines.append(f"  set {n}: agreement by kind " + ", ".join(
                f"{k} {v:.2f}" for k, v in r["grader"]["agreement_by_kind"].items())
                + "; mean score " + ", ".join(f"{k} {v:.2f}" for k, v in r["grader"]["mean_score"].items())
                + f"; labelled points overlapped by its own {r['grader_own_points']['labelled_points_overlapped']:.2f}")
            for m in r.get("misses", []):
                lines.append(f"    miss {json.dumps(m, ensure_ascii=False)}")
    return "\n".join(lines)


def _config(model_name: str, pairs: list[str], fitted: dict | None = None):
    from progress.grade import config_for

    base = config_for(model_name)
    fields = {f.name: f.type for f in dataclasses.fields(base)}
    values = dict(fitted or {})
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in fields or key == "weights":
            raise SystemExit(f"unknown setting {key!r}; one of {', '.join(f for f in fields if f != 'weights')}")
        values[key] = int(value) if fields[key] in ("int", int) else float(value)
    return dataclasses.replace(base, **values)


def speed(index_dirs: list[str], answers: int = 60) -> dict:
    """p50 and p90 of one grade (the question's own points, as the app and the CLI grade) per index, in one run
    that alternates the indexes answer by answer, so the machine's load falls on each alike. Each grader is
    warmed first (model loaded, every question's points and mistakes embedded: once per index version in the
    app), so a grade's time is the answer's own: splitting it, embedding its parts in one batch, the model."""
    from index import open_index
    from progress.grade import Grader

    graders = [Grader(open_index(d)) for d in index_dirs]
    labelled = [a for path in SETS.values() for q in load_answers(graders[0].index, path) for a in q.answers]
    step = max(1, len(labelled) // answers)
    sample = labelled[::step][:answers]
    for g in graders:
        for qid in dict.fromkeys(a.question_id for a in labelled):
            g.grade(qid, "a first answer to warm the grader up")
    times: list[list[float]] = [[] for _ in graders]
    for a in sample:
        for g, t in zip(graders, times):
            t0 = time.perf_counter()
            g.grade(a.question_id, a.text)
            t.append(time.perf_counter() - t0)
    return {"answers": len(sample), "load": round(os.getloadavg()[0], 1), "indexes": [
        {"index": d, "model": g.index.model_name, "p50_ms": round(1000 * float(np.median(t)), 1),
         "p90_ms": round(1000 * float(np.percentile(t, 90)), 1)} for d, g, t in zip(index_dirs, graders, times)]}


def main(argv: list[str] | None = None) -> int:
    from index import SearchToolError, open_index

    parser = argparse.ArgumentParser(prog="python -m bench.grading", description=__doc__.split("\n")[0])
    parser.add_argument("--index", default=str(ROOT / "build" / "index"), help="index folder (default: %(default)s)")
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--set", choices=(*SETS, "both"), default="both", help="labelled set (default: %(default)s)")
    parser.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="GradeConfig settings to try")
    parser.add_argument("--misses", action="store_true", help="list the points graded against the label (dev only)")
    parser.add_argument("--fit", action="store_true",
                        help="refit the per-point model on the dev halves of the sets, print it, evaluate with it")
    parser.add_argument("--speed", nargs="+", metavar="INDEX",
                        help="only time one grade with each of these indexes, alternating them answer by answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.speed:
        try:
            result = speed(args.speed)
        except (SearchToolError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(result, indent=1) if args.json else "\n".join(
            f"{r['model']:24} {r['p50_ms']:8.1f} ms p50 {r['p90_ms']:8.1f} ms p90  ({r['index']})"
            for r in result["indexes"]) + f"\n{result['answers']} answers each, load average {result['load']}")
        return 0
    if args.misses and args.split != "dev":
        parser.error("--misses shows what the grader gets wrong: use it with --split dev only")

    try:
        index = open_index(args.index)
        sets = {name: load_answers(index, path) for name, path in SETS.items() if args.set in (name, "both")}
    except (SearchToolError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    embed = CachedEmbedder(index)
    config = _config(index.model_name, args.config)
    if args.fit:  # on the dev halves only: the test halves stay held out
        fitted = fit(index, [q for qs in sets.values() for q in qs if q.split == "dev"], embed, config)
        print(f"fitted on dev for {index.model_name}: {fitted}", file=sys.stderr)
        config = dataclasses.replace(config, **fitted)
    splits = ("dev", "test") if args.split == "both" else (args.split,)
    results = {name: {s: evaluate(index, [q for q in questions if q.split == s], config, args.misses, embed)
                      for s in splits}
               for name, questions in sets.items()}
    print(json.dumps({"model": index.model_name, "sets": results}, indent=1) if args.json
          else f"model {index.model_name}\n" + report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
