"""`python -m bench speed` (make bench): latency against peers, cold start, ingest and scale, in one run.

    python -m bench speed                  everything; writes BENCHMARKS.md and docs/bench-scale.png
    python -m bench speed --quick          fewer repetitions, banks of 10k and 100k only; writes
                                           build/bench/BENCHMARKS-quick.md (never the committed file)
    python -m bench speed --sizes 10000,100000 --skip warm,cold,ingest

Raw figures also go to build/bench/speed.json. Every comparison is measured in this one run, with
the peers interleaved query by query, because other jobs share this machine and timings drift.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .stats import percentile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "build" / "bench"
PLOT = ROOT / "docs" / "bench-scale.png"
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
TORCH_MODULES = ("torch", "transformers", "sentence_transformers")
TEMPLATE = Path(__file__).with_name("report.md.tmpl")
# BENCHMARKS.md from this line on is written by hand (measured choices, history) and kept by every run
HAND_WRITTEN = "<!-- Written by hand from here on (measured choices and history); `python -m bench speed` keeps it. -->"

# Distinct queries, each asked once per system (a repeat would be answered by the query cache).
QUERIES = [
    "how do I detect leakage", "what is overfitting", "precision vs recall trade-off",
    "why does gradient boosting overfit", "explain attention in transformers", "how to choose k in cross validation",
    "model drift in production", "difference between classification and regression", "adam vs sgd",
    "vanishing gradients in deep networks", "common mistakes with cross validation", "example of feature leakage",
    "when is accuracy a bad metric", "regularization to reduce variance", "learning rate too high symptoms",
    "how do transformers replace RNNs", "target leakage from future data", "imbalanced classes which metric",
    "early stopping boosting trees", "concept drift vs data drift", "what does the softmax do in attention",
    "bias variance tradeoff", "stratified k fold", "production story about a model that failed",
    "momentum in gradient descent", "how many layers should a neural network have", "f1 score meaning",
    "monitoring a deployed model", "xgboost learning rate and number of trees", "train test split mistakes",
    "batch size effect on training", "what is a residual in boosting", "why normalize features",
    "recall at high threshold", "dropout as regularization", "retraining schedule for drifting data",
    "multi head attention", "leakage in time series validation", "logistic regression is classification",
    "how to explain ROC AUC to a manager",
]
WARMUP = ["warm up query one", "another warm up about models", "third warm up: gradient"]


# ---------------------------------------------------------------------------- helpers
def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    from importlib.metadata import version

    versions = {}
    for name in ("faiss", "onnxruntime", "bm25s", "numpy", "sentence_transformers", "torch", "txtai"):
        try:
            versions[name] = version({"faiss": "faiss-cpu", "sentence_transformers": "sentence-transformers"}
                                     .get(name, name))
        except Exception:
            versions[name] = "not installed"
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "ram_gib": round(mem_kb / 2 ** 20, 1),
            "python": platform.python_version(), "os": platform.platform(), "load_before": os.getloadavg(),
            "versions": versions}


# ---------------------------------------------------------------------------- 1. warm latency
def warm_latency(index_dir: Path, queries: list[str], baseline: Path | None = None) -> dict:
    """Per-query latency, one query at a time, of the project, txtai hybrid and the plain script, all three with the
    index's model; with `baseline`, also the project's search on that index with the float ONNX query model (what
    an all-MiniLM-L6-v2 index served before the 8-bit query models).

    The systems are loaded once, warmed up, then asked the same queries interleaved
    (query 1 to each, query 2 to each, …) so load from other jobs hits all of them alike.
    """
    from bench.plain import PlainSearch, section_texts
    from index import open_index, store

    model_path = store.read_manifest(store.current_version(index_dir), index_dir)["model"]["path"]
    systems = {}
    project = open_index(index_dir)
    systems["project"] = lambda q: project.search(q, k=5)
    if baseline is not None:
        from index.embed import ONNX_FLOAT, ONNX_TOKENIZER, OnnxEmbedder, verified_onnx_folder

        model = store.read_manifest(store.current_version(baseline), baseline)["model"]
        folder = verified_onnx_folder(model["onnx"], (ONNX_FLOAT, ONNX_TOKENIZER))
        base = open_index(baseline, embedder=OnnxEmbedder(folder, int(model["max_seq_length"]), model_file=ONNX_FLOAT))
        systems["baseline"] = lambda q: base.search(q, k=5)
    plain = PlainSearch(index_dir, model_path)
    systems["plain"] = lambda q: plain.search(q, k=5)
    try:
        from txtai import Embeddings

        ids, texts, _ = section_texts(index_dir)
        embeddings = Embeddings({"path": model_path, "method": "sentence-transformers",
                                 "content": True, "hybrid": True})
        embeddings.index([(i, t, None) for i, t in zip(ids, texts)])
        systems["txtai"] = lambda q: embeddings.search(q, 5)
    except ImportError:
        print("  txtai is not installed here: run `make bench` (it uses .venv-bench)", file=sys.stderr)
    for q in WARMUP:
        for run in systems.values():
            run(q)
    times = {name: [] for name in systems}
    names = list(systems)
    for n, q in enumerate(queries):
        order = names[n % len(names):] + names[:n % len(names)]
        for name in order:
            start = time.perf_counter()
            systems[name](q)
            times[name].append((time.perf_counter() - start) * 1000)
    # repeated queries: the project's query-embedding cache answers these
    cached = []
    for q in queries:
        start = time.perf_counter()
        project.search(q, k=5)
        cached.append((time.perf_counter() - start) * 1000)
    out = {name: {"p50_ms": percentile(t, 50), "p95_ms": percentile(t, 95), "n": len(t)} for name, t in times.items()}
    out["project_repeat"] = {"p50_ms": percentile(cached, 50), "p95_ms": percentile(cached, 95), "n": len(cached)}
    out["model"] = project.model_name
    out["baseline_model"] = base.model_name if baseline is not None else None
    import torch

    out["peer_torch_threads"] = torch.get_num_threads()
    return out


# ---------------------------------------------------------------------------- 2. cold one-shot
def _run_timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-400:]}")
    return elapsed


def cold_start(index_dir: Path, reps: int) -> dict:
    """Process start to answer: `python -m index search "…"` vs the plain script, alternating, median of reps."""
    query = "how do I detect leakage"
    commands = {
        "project": [sys.executable, "-m", "index", "search", "--index", str(index_dir), query],
        "plain": [sys.executable, "bench/plain.py", "--index", str(index_dir), query],
    }
    times = {name: [] for name in commands}
    for rep in range(reps):
        for name in (list(commands) if rep % 2 == 0 else list(commands)[::-1]):
            times[name].append(_run_timed(commands[name]))
    trace = subprocess.run([sys.executable, "-X", "importtime", *commands["project"][1:]], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in trace.splitlines() if line.startswith("import time:")}
    heavy = sorted(m for m in imported if m.split(".")[0] in TORCH_MODULES)
    out = {name: {"median_s": statistics.median(t), "all_s": t} for name, t in times.items()}
    out["project_imports_torch"] = heavy
    return out


# ---------------------------------------------------------------------------- 3. ingest
def ingest_times() -> dict:
    """Full build into a fresh folder, an unchanged re-run, and a re-run after one file changed."""
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        content = work / "content"
        shutil.copytree(ROOT / "content", content)
        cmd = [sys.executable, "-m", "ingest", "--content", str(content), "--index", str(work / "index"), "--quiet"]

        def run() -> tuple[float, str]:
            start = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"ingest failed: {done.stderr.strip()[-400:]}")
            return time.perf_counter() - start, (done.stdout.strip().splitlines() or [""])[-1]

        full, full_msg = run()
        unchanged, unchanged_msg = run()
        target = sorted(content.glob("*.md"))[0]
        target.write_text(target.read_text(encoding="utf-8").rstrip("\n")
                          + " One more sentence, added by the benchmark.\n", encoding="utf-8")
        changed, changed_msg = run()
        return {"full_s": full, "unchanged_s": unchanged, "one_changed_s": changed, "changed_file": target.name,
                "messages": {"full": full_msg, "unchanged": unchanged_msg, "one_changed": changed_msg}}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------- 4. scale
def real_index() -> Path:
    """The real index whose vectors the synthetic banks imitate (their dimension is its model's):
    $MLPREP_BENCH_REAL_INDEX (set by --real-index), else build/index."""
    return Path(os.environ.get("MLPREP_BENCH_REAL_INDEX") or ROOT / "build" / "index")


def real_bank_vectors() -> np.ndarray:
    from index import format, store

    version = store.current_version(real_index())
    return np.vstack([format.read_vectors(version, "sections"), format.read_vectors(version, "titles")]).astype(np.float32)


def synthetic_vectors(n: int, seed: int, real: np.ndarray, noise: float = 0.3, block: int = 100_000) -> np.ndarray:
    """n random unit vectors shaped like the real bank's: its mean plus random mixtures of its rows'
    deviations plus isotropic noise (pairwise cosines then match the real bank's: mean ≈ 0.23)."""
    mean = real.mean(axis=0)
    spread = (real - mean) / np.sqrt(len(real))
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, block):
        m = min(block, n - start)
        x = mean + rng.standard_normal((m, len(real)), dtype=np.float32) @ spread
        x += noise / np.sqrt(real.shape[1]) * rng.standard_normal((m, real.shape[1]), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[start:start + m] = x
    return out


def synthetic_vocabulary(size: int = 30_000) -> list[str]:
    """The real bank's words, then made-up letter words, in a fixed order (Zipf ranks)."""
    from index import format, store
    from index.lexical import STOPWORDS_EN, LexicalIndex

    version = store.current_version(real_index())
    words = LexicalIndex.load(format.lexical_folder(version, "sections")).vocabulary

    rng = np.random.default_rng(5)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    made = set(words)
    while len(made) < size:
        w = "".join(rng.choice(letters, rng.integers(4, 10)))
        if w not in STOPWORDS_EN:
            made.add(w)
    rest = sorted(made - set(words))
    order = list(words) + rest
    rng.shuffle(order)
    return order


def word_frequencies(size: int, offset: float = 10.0) -> np.ndarray:
    """Zipf–Mandelbrot word probabilities, p(rank) ∝ 1 / (rank + offset): with stopwords removed, the most
    common word is about 1% of all words (in ~25% of sections), as content words are in the real bank."""
    p = 1.0 / (np.arange(1, size + 1) + offset)
    return p / p.sum()


def synthetic_texts(n: int, vocab: list[str], seed: int, mean_words: int = 24):
    """n section texts of 12–36 words drawn from a Zipf–Mandelbrot distribution over `vocab`."""
    rng = np.random.default_rng(seed)
    p = word_frequencies(len(vocab))
    vocab_arr = np.array(vocab, dtype=object)
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        lengths = rng.integers(mean_words // 2, mean_words * 3 // 2 + 1, m)
        words = vocab_arr[rng.choice(len(vocab), lengths.sum(), p=p)]
        cuts = np.cumsum(lengths)[:-1]
        for doc in np.split(words, cuts):
            yield " ".join(doc)


SECTIONS_PER_QUESTION = 5
SENTENCES_PER_SECTION = (2, 5)  # 2-5 sentences, 3.5 on average (the real bank: 3.5)
ALIASES_PER_QUESTION = 2
EXACT_QUERIES = 50  # queries whose whole search is also run exactly, for recall@10


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _near(base: np.ndarray, seed: int, real: np.ndarray, weight: float = 0.7) -> np.ndarray:
    """Unit vectors near `base` row by row: base plus a fresh real-shaped vector (sentence near its section)."""
    out = np.empty_like(base)
    for start in range(0, len(base), 200_000):
        m = min(200_000, len(base) - start)
        fresh = synthetic_vectors(m, seed + start, real)
        out[start:start + m] = _unit(base[start:start + m] + weight * fresh)
    return out


def write_synthetic_bank(folder: Path, n: int) -> dict:
    """A synthetic index folder of n chunks in the real format: n/5 questions of 5 sections, each with a title,
    two aliases, one or two topics and 2-5 sentences per section; vectors shaped like the real bank's (a sentence
    near its section, names near their question's title); written by the index format's own writer
    (`format.write_version`, as ingest writes) and published with `store.publish`. Returns build timings."""
    import hashlib

    from index import format, store
    from index.lexical import Analyzer
    from index.model import Question, Section
    from ingest.chunking import chunking_config, section_text
    from ingest.content import SECTIONS

    started = time.perf_counter()
    real = real_bank_vectors()
    dim = real.shape[1]
    rng = np.random.default_rng(21)
    n_q = n // SECTIONS_PER_QUESTION
    n = n_q * SECTIONS_PER_QUESTION
    vocab = synthetic_vocabulary()
    vocab_arr = np.array(vocab, dtype=object)
    p = word_frequencies(len(vocab))
    texts = list(synthetic_texts(n, vocab, seed=13))
    name_words = vocab_arr[rng.choice(len(vocab), (n_q, 1 + ALIASES_PER_QUESTION, 3), p=p)]
    topic_names = [f"topic {i:02d}" for i in range(40)]
    topic_of = rng.integers(0, len(topic_names), (n_q, 2))
    questions = []
    for i in range(n_q):
        names = [" ".join(w) for w in name_words[i]]
        questions.append(Question(f"q{i:07d}", names[0], tuple(sorted({topic_names[t] for t in topic_of[i][:1 + i % 2]})),
                                  tuple(names[1:]), f"q{i:07d}.md",
                                  tuple(Section(key, heading, texts[i * 5 + j]) for j, (key, heading) in enumerate(SECTIONS))))
    per_chunk = rng.integers(SENTENCES_PER_SECTION[0], SENTENCES_PER_SECTION[1] + 1, n)
    sentence_chunks = np.repeat(np.arange(n), per_chunk).astype(np.int32)
    name_questions = np.repeat(np.arange(n_q), 1 + ALIASES_PER_QUESTION).astype(np.int32)
    generated = time.perf_counter()

    section_vectors = synthetic_vectors(n, seed=11, real=real)
    question_vectors = _unit(section_vectors.reshape(n_q, SECTIONS_PER_QUESTION, -1).mean(axis=1))
    title_vectors = _near(question_vectors, 31, real, weight=0.5)
    name_vectors = _near(np.repeat(title_vectors, 1 + ALIASES_PER_QUESTION, axis=0), 41, real, weight=0.3)
    timings = {"generate_s": generated - started}
    chunks = [format.ChunkRecord(f"{q.id}#{s.key}", q.id, s.key,
                                 hashlib.sha256(section_text(q.title, s.heading, s.text).encode("utf-8")).hexdigest())
              for q in questions for s in q.sections]
    analyzer = Analyzer()
    contents = format.VersionContents(
        questions=questions, chunks=chunks, section_vectors=section_vectors, title_vectors=title_vectors,
        question_vectors=question_vectors, name_vectors=name_vectors,
        # the sentence vectors go straight to their file, block by block (3.5 per chunk: too many to hold)
        sentence_vectors=format.VectorBlocks(len(sentence_chunks), dim, lambda start, stop: _near(
            section_vectors[sentence_chunks[start:stop]], 51 + start, real, weight=0.9)),
        sentence_chunks=sentence_chunks, name_questions=name_questions, analyzer=analyzer)

    def write(tmp: Path) -> dict:
        key = lambda i, field: hashlib.sha256(f"{field}{i}".encode()).hexdigest()  # noqa: E731 (shape only)
        return {
            "chunking": chunking_config(), "lexical": analyzer.config(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": {"name": "synthetic", "source": "synthetic", "weights_sha256": "0" * 64, "max_seq_length": 256,
                      "onnx": None, "dimension": dim},
            **format.write_version(tmp, contents),
            "chunks": {c.id: c.text_sha256 for c in chunks},
            "embedding_keys": {"chunks": [key(i, "c") for i in range(n)], "titles": [key(i, "t") for i in range(n_q)],
                               "sentences": [key(i, "s") for i in range(len(sentence_chunks))],
                               "names": [key(i, "n") for i in range(len(name_questions))]},
            "sources": {},
        }

    t0 = time.perf_counter()
    store.publish(folder, write)
    timings["publish_s"] = time.perf_counter() - t0  # every file written, then hashed and fsynced
    timings["build_s"] = time.perf_counter() - started
    timings["sentences"] = int(len(sentence_chunks))
    timings["names"] = int(len(name_questions))
    return timings


class SyntheticQueryEmbedder:
    """A stand-in for the query model: a deterministic unit vector per text, shaped like the real bank's vectors
    (the same text gives the same vector in every process)."""

    def __init__(self):
        self.real = real_bank_vectors()

    def encode(self, texts, progress=False):
        import zlib

        return np.vstack([synthetic_vectors(1, zlib.crc32(t.encode("utf-8")), self.real) for t in texts])


def synthetic_queries(n_queries: int) -> list[str]:
    """Distinct three-word queries drawn like the synthetic texts' words."""
    vocab = synthetic_vocabulary()
    rng = np.random.default_rng(14)
    p = word_frequencies(len(vocab))
    out: dict[str, None] = {}
    while len(out) < n_queries:
        out[" ".join(rng.choice(np.array(vocab, dtype=object), 3, p=p))] = None
    return list(out)


def scale_search(folder: Path, n_queries: int, exact: bool) -> dict:
    """In its own process: open the synthetic index as a user would (open_index: manifest, every file's hash,
    load), then time the whole `Index.search(q, k=10)` one query at a time. With `exact`, the index is opened with
    `open_index(..., exact=True)`: every dense field scanned exactly and every candidate scored with the float
    vectors (the reference for recall@10: no FAISS approximation and no 8-bit codes anywhere)."""
    from index import open_index

    embedder = SyntheticQueryEmbedder()
    start = time.perf_counter()
    idx = open_index(folder, embedder=embedder, exact=exact)
    load_s = time.perf_counter() - start
    queries = synthetic_queries(n_queries)
    if exact:
        queries = queries[:EXACT_QUERIES]
    for warm in ("warm up one", "warm up two", "warm up three"):
        idx.search(warm, k=10)
    times, found = [], []
    after_load = memory_status()
    for q in queries:
        t0 = time.perf_counter()
        result = idx.search(q, k=10)
        times.append((time.perf_counter() - t0) * 1000)
        found.append([h.chunk_id for h in result.hits])
    after_queries = memory_status()
    return {"load_s": load_s, "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
            "peak_rss_mb": after_queries["peak_rss_mb"], "after_load": after_load, "after_queries": after_queries,
            "queries": len(queries), "found": found,
            "index": idx.manifest["faiss"], "fields": idx.manifest.get("dense_fields", {})}


def _child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench", "speed", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench speed {' '.join(args)} failed: {done.stderr.strip()[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_status() -> dict:
    """This process's peak and current resident memory (MB), the current split into anonymous memory (the
    process's own: Python objects, FAISS indexes) and mapped file pages (vector files read through mmap: page
    cache, shared and dropped by the kernel under pressure, but counted in RSS while mapped). The peak is VmHWM,
    not ru_maxrss: after fork + exec, Linux's ru_maxrss starts from the parent's peak (here the benchmark process
    with torch and txtai loaded), VmHWM from zero."""
    fields = {"VmHWM": "peak_rss_mb", "VmRSS": "rss_mb", "RssAnon": "anon_mb", "RssFile": "file_mb"}
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in fields:
            out[fields[key]] = int(line.split()[1]) / 1024
    return out


def scale_worker(n: int, n_queries: int, keep: str | None = None) -> dict:
    """One bank size: write the synthetic index (this process), then search it in a fresh process (its own load
    time and peak memory) and once more exactly (recall@10 of the whole search). With `keep`, the bank is written
    to (and kept in) `<keep>/<n>`, and a bank already there is searched again instead of rebuilt."""
    work = Path(keep) / str(n) if keep else Path(tempfile.mkdtemp(prefix=f"bench-scale-{n}-"))
    try:
        saved = work / "build.json"
        if keep and saved.is_file():
            built = json.loads(saved.read_text(encoding="utf-8"))
        else:
            work.mkdir(parents=True, exist_ok=True)
            built = write_synthetic_bank(work / "index", n)
            if keep:
                saved.write_text(json.dumps(built), encoding="utf-8")
        fast = _child(["--scale-search", str(work / "index"), "--scale-queries", str(n_queries)])
        exact = _child(["--scale-search", str(work / "index"), "--scale-queries", str(n_queries), "--scale-exact"])
        size = sum(f.stat().st_size for f in (work / "index").rglob("*") if f.is_file())
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    recall = float(np.mean([len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(fast["found"], exact["found"])]))
    return {"n": n, **built, "load_s": fast["load_s"], "p50_ms": fast["p50_ms"], "p95_ms": fast["p95_ms"],
            "exact_p50_ms": exact["p50_ms"], "peak_rss_mb": fast["peak_rss_mb"], "recall_at_10": recall,
            "after_load": fast["after_load"], "after_queries": fast["after_queries"],
            "recall_queries": len(exact["found"]), "queries": fast["queries"], "index": fast["index"],
            "fields": fast["fields"], "disk_mb": size / 2**20}


def scale(sizes, n_queries: int, keep: str | None = None) -> list[dict]:
    rows = []
    for n in sizes:
        print(f"  scale: {n:,} chunks …", file=sys.stderr, flush=True)
        start = time.perf_counter()
        row = _child(["--scale-worker", str(n), "--scale-queries", str(n_queries),
                      *(["--keep-banks", keep] if keep else [])])
        row["wall_s"] = time.perf_counter() - start
        rows.append(row)
        print(f"    build {row['build_s']:.1f} s, load {row['load_s']:.1f} s, p50 {row['p50_ms']:.2f} ms, "
              f"p95 {row['p95_ms']:.2f} ms, recall@10 {row['recall_at_10']:.3f}, peak {row['peak_rss_mb']:.0f} MB, "
              f"{row['wall_s']:.0f} s in all", file=sys.stderr, flush=True)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["n"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(n, [r["p50_ms"] for r in rows], "o-", label="Index.search p50")
    ax.plot(n, [r["p95_ms"] for r in rows], "o--", label="Index.search p95")
    ax.plot(n, [r["exact_p50_ms"] for r in rows], "s:", label="same search, every field exact (p50)")
    ax.axhline(20, color="grey", lw=0.8, ls="--")
    ax.text(n[0], 21, "20 ms target", color="grey", fontsize=8)
    for r in rows:
        ax.annotate(f"{r['peak_rss_mb'] / 1024:.1f} GiB peak", (r["n"], r["p50_ms"]), textcoords="offset points",
                    xytext=(4, -12), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("bank size (chunks)")
    ax.set_ylabel("latency per query (ms)")
    ax.set_title("Whole-search latency vs bank size (synthetic banks, one query at a time)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------- report
def _kinds(r: dict) -> str:
    """The index of each dense field, e.g. "sections ivf_sq8 1024/64; sentences ivf_sq8 2048/128; titles exact"."""
    def one(spec: dict) -> str:
        return spec["type"] + (f" {spec['nlist']}/{spec['nprobe']}" if "nlist" in spec else "")
    fields = {"sections": r["index"], **r.get("fields", {})}
    return "; ".join(f"{name} {one(spec)}" for name, spec in fields.items())


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def _ms(x: float) -> str:
    return f"{x:.1f} ms" if x >= 10 else f"{x:.2f} ms"


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows for the issue's four targets."""
    rows = []

    def ratio_row(target: str, ours: float, theirs: float, unit: str, limit: float) -> None:
        ratio = ours / theirs
        fmt = _ms if unit == "ms" else (lambda x: f"{x:.2f} s")
        rows.append((target, f"{fmt(ours)} vs {fmt(theirs)} = {ratio:.2f}×", verdict(ratio <= limit)))

    warm = results.get("warm", {})
    if "project" in warm and "txtai" in warm:
        ratio_row("warm p50 ≤ 0.4× txtai hybrid's", warm["project"]["p50_ms"], warm["txtai"]["p50_ms"], "ms", 0.4)
    if "project" in warm and "baseline" in warm:
        ratio_row(f"warm p50 ≤ 3× {warm.get('baseline_model')}'s (float query model), aim",
                  warm["project"]["p50_ms"], warm["baseline"]["p50_ms"], "ms", 3.0)
    if results.get("cold"):
        cold = results["cold"]
        ratio_row("cold one-shot ≤ 0.25× the plain script's", cold["project"]["median_s"],
                  cold["plain"]["median_s"], "s", 0.25)
    if results.get("ingest"):
        ingest = results["ingest"]
        ratio_row("unchanged re-ingest ≤ 0.25× a full build", ingest["unchanged_s"], ingest["full_s"], "s", 0.25)
    big = [r for r in results.get("scale", []) if r["n"] == 1_000_000]
    if big:
        r = big[0]
        rows.append(("1M chunks: p50 ≤ 20 ms", _ms(r["p50_ms"]), verdict(r["p50_ms"] <= 20)))
        rows.append(("1M chunks: recall@10 ≥ 0.95", f"{r['recall_at_10']:.3f}", verdict(r["recall_at_10"] >= 0.95)))
        rows.append(("1M chunks: peak memory ≤ 3 GB", f"{r['peak_rss_mb'] / 1024:.2f} GiB",
                     verdict(r["peak_rss_mb"] <= 3 * 1024)))
    return rows


def machine_limit(results: dict) -> dict | None:
    """Where one machine stops, extrapolated linearly from the two largest measured banks (the template's figures),
    or None with fewer than two banks."""
    rows = sorted(results.get("scale", []), key=lambda r: r["n"])
    if len(rows) < 2:
        return None
    a, b = rows[-2], rows[-1]
    per_m = (b["n"] - a["n"]) / 1e6
    own_per_m = (b["after_queries"]["anon_mb"] - a["after_queries"]["anon_mb"]) / per_m
    disk_per_m = (b["disk_mb"] - a["disk_mb"]) / per_m
    build_per_m = (b["build_s"] - a["build_s"]) / per_m
    ram_mb = results["machine"]["ram_gib"] * 1024
    usable = 0.5 * ram_mb  # half the RAM: the page cache, the app and other users need the rest
    fit_m = b["n"] / 1e6 + (usable - b["after_queries"]["anon_mb"]) / max(own_per_m, 1e-9)
    return {"from_n": f"{a['n']:,}", "to_n": f"{b['n']:,}", "own_per_m": f"{own_per_m:,.0f}",
            "disk_per_m": f"{disk_per_m / 1024:,.1f}", "build_per_m": f"{build_per_m:,.0f}",
            "ram_gib": f"{results['machine']['ram_gib']:.0f}", "fit_m": f"{fit_m:,.0f}",
            "fit_disk": f"{b['disk_mb'] / 1024 + disk_per_m / 1024 * (fit_m - b['n'] / 1e6):,.0f}",
            "fit_build_min": f"{(b['build_s'] + build_per_m * (fit_m - b['n'] / 1e6)) / 60:,.0f}",
            "cpus": results["machine"]["cpus"], "from_p50": _ms(a["p50_ms"]), "to_p50": _ms(b["p50_ms"])}


def template_parts(path: Path = TEMPLATE) -> dict[str, string.Template]:
    """{part name: its template} from the report template (parts start with a `<!-- part: NAME -->` line)."""
    parts: dict[str, list[str]] = {}
    name = None
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        marker = re.fullmatch(r"<!-- part: (\w+) -->\s*", line)
        if marker:
            name = marker.group(1)
            parts[name] = []
        elif name is not None:
            parts[name].append(line)
    return {key: string.Template("".join(lines)) for key, lines in parts.items()}


def hand_written(path: Path) -> str:
    """The hand-written end of a report (from the HAND_WRITTEN line on), kept by every run; "" if it has none."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return text[text.index(HAND_WRITTEN):] if HAND_WRITTEN in text else ""


def report(results: dict, command: str, plot_path: Path | None, kept: str = "") -> str:
    """The Markdown report: the template's parts filled with this run's figures, then `kept` (hand-written)."""
    from index import ann, codes

    parts = template_parts()
    m = results["machine"]
    scale_rows = results.get("scale") or []
    out = [parts["header"].substitute(command=command, started=results["started"],
                                      minutes=f"{results['total_s'] / 60:.1f}")]
    out += [parts["note"].substitute(note=note) for note in results.get("notes", [])]
    if results.get("partial"):
        out.append(parts["partial"].substitute())
    out.append(parts["machine"].substitute(
        cpu_model=m["cpu_model"], cpus=m["cpus"], ram_gib=m["ram_gib"], os=m["os"], python=m["python"],
        load_before=", ".join(f"{x:.1f}" for x in m["load_before"]),
        load_after=", ".join(f"{x:.1f}" for x in m.get("load_after", ())),
        versions=", ".join(f"{k} {v}" for k, v in m["versions"].items()), warm_queries=len(QUERIES),
        scale_queries=scale_rows[0]["queries"] if scale_rows else 200, exact_queries=EXACT_QUERIES))
    out.append(parts["targets"].substitute(target_rows="\n".join(f"| {t} | {v} | {ok} |"
                                                                  for t, v, ok in targets(results))))
    warm = results.get("warm")
    if warm:
        names = {"project": f"this project (hybrid, ONNX query model), {warm.get('model', '')}",
                 "baseline": f"this project on a {warm.get('baseline_model')} index, float ONNX query model",
                 "txtai": "txtai hybrid",
                 "plain": "plain script (sentence-transformers + FAISS flat, dense only)",
                 "project_repeat": "this project, repeated query (embedding cache hit)"}
        out.append(parts["warm"].substitute(
            warm_rows="\n".join(f"| {names.get(k, k)} | {_ms(v['p50_ms'])} | {_ms(v['p95_ms'])} | {v['n']} |"
                                for k, v in warm.items() if isinstance(v, dict)),
            peer_torch_threads=warm.get("peer_torch_threads", "?")))
    cold = results.get("cold")
    if cold:
        out.append(parts["cold"].substitute(
            project_median=f"{cold['project']['median_s']:.2f} s",
            project_runs=", ".join(f"{x:.2f}" for x in cold["project"]["all_s"]),
            plain_median=f"{cold['plain']['median_s']:.2f} s",
            plain_runs=", ".join(f"{x:.2f}" for x in cold["plain"]["all_s"]),
            torch_imports=", ".join(cold["project_imports_torch"][:8]) or "none"))
    ingest = results.get("ingest")
    if ingest:
        msg = ingest["messages"]
        out.append(parts["ingest"].substitute(
            full_s=f"{ingest['full_s']:.1f} s", unchanged_s=f"{ingest['unchanged_s']:.2f} s",
            one_changed_s=f"{ingest['one_changed_s']:.1f} s", changed_file=ingest["changed_file"],
            full_message=msg["full"], unchanged_message=msg["unchanged"], one_changed_message=msg["one_changed"]))
    if scale_rows:
        plot_line = ""
        if plot_path:
            rel = plot_path.relative_to(ROOT) if plot_path.is_relative_to(ROOT) else plot_path
            plot_line = f"![latency vs bank size]({rel.as_posix()})"
        out.append(parts["scale"].substitute(
            scale_rows="\n".join(
                f"| {r['n']:,} | {r['sentences']:,} / {r['names']:,} | {_kinds(r)} | {r['build_s']:.0f} s | "
                f"{r['load_s']:.1f} s | {r['peak_rss_mb']:,.0f} MB | {r['after_queries']['anon_mb']:,.0f} / "
                f"{r['after_queries']['file_mb']:,.0f} MB | {_ms(r['p50_ms'])} | {_ms(r['p95_ms'])} | "
                f"{_ms(r['exact_p50_ms'])} | {r['recall_at_10']:.3f} |" for r in scale_rows),
            plot=plot_line, exact_max=f"{ann.EXACT_MAX:,}", codes_above=f"{codes.CODES_ABOVE:,}",
            pq_above=f"{ann.PQ_ABOVE['sentences']:,}"))
        limit = machine_limit(results)
        out.append(parts["limit"].substitute(limit) if limit else parts["limit_missing"].substitute())
    out.append(parts["distributed"].substitute())
    text = "".join(out).rstrip("\n") + "\n"
    return text + ("\n" + kept.rstrip("\n") + "\n" if kept else "")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench speed", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions; banks of 10k and 100k")
    parser.add_argument("--sizes", help="comma-separated bank sizes for the scale part (default 10000,100000,1000000)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: warm,cold,ingest,scale")
    parser.add_argument("--index", default=str(ROOT / "build" / "index"), help="the real index (make index)")
    parser.add_argument("--baseline-index", help="warm part: also time the search on this index with its float ONNX "
                        "query model (an all-MiniLM-L6-v2 index: the search before the 8-bit query models)")
    parser.add_argument("--real-index", help="scale part: the index whose vectors (and dimension) the synthetic banks "
                        "imitate (default: --index)")
    parser.add_argument("--out", help="Markdown report (default BENCHMARKS.md; build/bench/ for partial runs)")
    parser.add_argument("--from-json", metavar="JSON", help="only re-render the report and plot from a saved run")
    parser.add_argument("--keep-banks", metavar="DIR", help="keep the synthetic banks in DIR/<size> and search "
                        "a bank already there again instead of rebuilding it (its build figures are the saved ones)")
    parser.add_argument("--scale-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scale-queries", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--scale-search", help=argparse.SUPPRESS)
    parser.add_argument("--scale-exact", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.real_index or not os.environ.get("MLPREP_BENCH_REAL_INDEX"):  # the workers are child processes
        os.environ["MLPREP_BENCH_REAL_INDEX"] = str(Path(args.real_index or args.index).resolve())

    if args.scale_search:
        print(json.dumps(scale_search(Path(args.scale_search), args.scale_queries, args.scale_exact)))
        return 0
    if args.scale_worker:
        print(json.dumps(scale_worker(args.scale_worker, args.scale_queries, args.keep_banks)))
        return 0

    if args.from_json:
        results = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
        return write_outputs(results, args.out, results.get("command", "make bench"))

    skip = {s for s in args.skip.split(",") if s}
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (QUICK_SIZES if args.quick else SIZES)
    partial = args.quick or bool(skip) or sizes != SIZES
    index_dir = Path(args.index)
    results: dict = {"machine": machine(), "partial": partial, "started": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                         time.gmtime())}
    started = time.perf_counter()
    if "warm" not in skip:
        print("warm latency …", file=sys.stderr, flush=True)
        results["warm"] = warm_latency(index_dir, QUERIES[:15] if args.quick else QUERIES,
                                       Path(args.baseline_index) if args.baseline_index else None)
    if "cold" not in skip:
        print("cold one-shot …", file=sys.stderr, flush=True)
        results["cold"] = cold_start(index_dir, 2 if args.quick else 5)
    if "ingest" not in skip:
        print("ingest …", file=sys.stderr, flush=True)
        results["ingest"] = ingest_times()
    if "scale" not in skip:
        print("scale …", file=sys.stderr, flush=True)
        results["scale"] = scale(sizes, 50 if args.quick else 200, args.keep_banks)
    results["total_s"] = time.perf_counter() - started
    results["machine"]["load_after"] = os.getloadavg()

    results["command"] = "make bench" if not partial else "python -m bench speed " + " ".join(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / ("speed-partial.json" if partial else "speed.json")).write_text(json.dumps(results, indent=1),
                                                                                encoding="utf-8")
    return write_outputs(results, args.out, results["command"])


def write_outputs(results: dict, out: str | None, command: str) -> int:
    partial = results.get("partial", True)
    plot_path = None
    if results.get("scale"):
        plot_path = PLOT if not partial else OUT_DIR / "bench-scale.png"
        plot(results["scale"], plot_path)
    target = Path(out) if out else (OUT_DIR / "BENCHMARKS-quick.md" if partial else ROOT / "BENCHMARKS.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = hand_written(target) or hand_written(ROOT / "BENCHMARKS.md")
    target.write_text(report(results, command, plot_path, kept), encoding="utf-8")
    print(f"wrote {target} ({results['total_s'] / 60:.1f} min run)", file=sys.stderr)
    return 0
