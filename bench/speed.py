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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "build" / "bench"
PLOT = ROOT / "docs" / "bench-scale.png"
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
TORCH_MODULES = ("torch", "transformers", "sentence_transformers")

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
def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


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
def warm_latency(index_dir: Path, queries: list[str]) -> dict:
    """Per-query latency, one query at a time, of the project, txtai hybrid and the plain script.

    The three systems are loaded once, warmed up, then asked the same queries interleaved
    (query 1 to each, query 2 to each, …) so load from other jobs hits all of them alike.
    """
    from bench.plain import PlainSearch, bundled_model_path, section_texts
    from index import open_index

    model_path = bundled_model_path()
    systems = {}
    project = open_index(index_dir)
    systems["project"] = lambda q: project.search(q, k=5)
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
DIM = 384


def real_bank_vectors() -> np.ndarray:
    from index import store

    version = store.current_version(ROOT / "build" / "index")
    return np.vstack([np.load(version / "vectors.npy", allow_pickle=False),
                      np.load(version / "titles.npy", allow_pickle=False)]).astype(np.float32)


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
    from index import store

    version = store.current_version(ROOT / "build" / "index")
    words = json.loads((version / "lexical" / "sections" / "words.json").read_text(encoding="utf-8"))
    from index.lexical import STOPWORDS_EN

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
    near its section, names near their question's title); files written and published as ingest does (the same
    `write_dense_fields`, `build_field_indexes`, `vectors.build`, `LexicalIndex.build`, `store.publish`).
    Returns build timings."""
    import hashlib

    from index import store, vectors as vec
    from index.lexical import Analyzer, LexicalIndex
    from ingest.build import (EMBED_TEMPLATE, SENTENCE_SPLIT, TITLE_TEMPLATE, build_field_indexes,
                              write_codes, write_dense_fields)
    from ingest.content import SECTIONS

    started = time.perf_counter()
    real = real_bank_vectors()
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
        questions.append({"id": f"q{i:07d}", "title": names[0], "aliases": names[1:],
                          "topics": sorted({topic_names[t] for t in topic_of[i][:1 + i % 2]}),
                          "path": f"q{i:07d}.md",
                          "sections": [{"key": key, "heading": heading, "text": texts[i * 5 + j]}
                                       for j, (key, heading) in enumerate(SECTIONS)]})
    chunk_q = np.repeat(np.arange(n_q), SECTIONS_PER_QUESTION)
    per_chunk = rng.integers(SENTENCES_PER_SECTION[0], SENTENCES_PER_SECTION[1] + 1, n)
    sentence_chunks = np.repeat(np.arange(n), per_chunk).astype(np.int32)
    name_questions = np.repeat(np.arange(n_q), 1 + ALIASES_PER_QUESTION).astype(np.int32)
    generated = time.perf_counter()

    section_vectors = synthetic_vectors(n, seed=11, real=real)
    question_vectors = _unit(section_vectors.reshape(n_q, SECTIONS_PER_QUESTION, -1).mean(axis=1))
    title_vectors = _near(question_vectors, 31, real, weight=0.5)
    name_vectors = _near(np.repeat(title_vectors, 1 + ALIASES_PER_QUESTION, axis=0), 41, real, weight=0.3)
    timings = {"generate_s": generated - started}

    def write(tmp: Path) -> dict:
        t0 = time.perf_counter()
        ids = [f"{q['id']}#{s['key']}" for q in questions for s in q["sections"]]
        embed_texts = [EMBED_TEMPLATE.format(title=q["title"], heading=s["heading"], text=s["text"])
                       for q in questions for s in q["sections"]]
        (tmp / "questions.json").write_text(json.dumps(questions, ensure_ascii=False, indent=1), encoding="utf-8")
        (tmp / "chunks.json").write_text(json.dumps([{
            "id": cid, "question": cid.split("#")[0], "section": cid.split("#")[1],
            "text_sha256": hashlib.sha256(t.encode("utf-8")).hexdigest()} for cid, t in zip(ids, embed_texts)],
            indent=1), encoding="utf-8")
        np.save(tmp / "vectors.npy", section_vectors, allow_pickle=False)
        np.save(tmp / "titles.npy", title_vectors, allow_pickle=False)
        np.save(tmp / "questions.npy", question_vectors, allow_pickle=False)
        # the sentence vectors go straight to their file, block by block (3.5 per chunk: 5.4 GB at 1M chunks)
        sentences = np.lib.format.open_memmap(tmp / "sentences.npy", mode="w+", dtype=np.float32,
                                              shape=(len(sentence_chunks), DIM))
        for start in range(0, len(sentence_chunks), 500_000):
            rows = sentence_chunks[start:start + 500_000]
            sentences[start:start + len(rows)] = _near(section_vectors[rows], 51 + start, real, weight=0.9)
        sentences.flush()
        np.save(tmp / "names.npy", name_vectors, allow_pickle=False)
        write_dense_fields(tmp, sentences, sentence_chunks, name_questions, chunk_q, n_q)
        timings["files_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        index, spec = vec.build(section_vectors)
        vec.write(index, tmp / "sections.faiss")
        del index
        timings["sections_faiss_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        dense_fields = build_field_indexes(tmp, {"sentences": sentences, "titles": title_vectors})
        timings["field_faiss_s"] = time.perf_counter() - t0
        del sentences
        t0 = time.perf_counter()
        codes = write_codes(tmp, chunk_q, sentence_chunks, name_questions, n_q)
        timings["codes_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        analyzer = Analyzer()
        LexicalIndex.build(analyzer, texts).save(tmp / "lexical" / "sections")
        LexicalIndex.build(analyzer, [" ".join([q["title"], *q["aliases"], *q["topics"]]) for q in questions]).save(
            tmp / "lexical" / "titles")
        timings["lexical_s"] = time.perf_counter() - t0
        key = lambda i, field: hashlib.sha256(f"{field}{i}".encode()).hexdigest()  # noqa: E731 (shape only)
        return {
            "chunking": {"sections": [list(s) for s in SECTIONS], "embed_template": EMBED_TEMPLATE,
                         "title_template": TITLE_TEMPLATE, "sentence_split": SENTENCE_SPLIT},
            "lexical": analyzer.config(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": {"name": "synthetic", "source": "synthetic", "weights_sha256": "0" * 64, "max_seq_length": 256,
                      "onnx": None, "dimension": DIM},
            "faiss": spec, "dense_fields": dense_fields, "codes": codes,
            "counts": {"questions": n_q, "chunks": n},
            "chunks": {cid: hashlib.sha256(t.encode("utf-8")).hexdigest() for cid, t in zip(ids, embed_texts)},
            "embedding_keys": {"chunks": [key(i, "c") for i in range(n)], "titles": [key(i, "t") for i in range(n_q)],
                               "sentences": [key(i, "s") for i in range(len(sentence_chunks))],
                               "names": [key(i, "n") for i in range(len(name_questions))]},
            "sources": {},
        }

    t0 = time.perf_counter()
    store.publish(folder, write)
    timings["publish_s"] = time.perf_counter() - t0  # includes every step of write, then hashing and fsync
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
    load), then time the whole `Index.search(q, k=10)` one query at a time. With `exact`, every dense field is
    scanned exactly and every candidate scored with the float vectors instead (the reference for recall@10: no FAISS
    approximation and no 8-bit codes anywhere)."""
    from index import open_index, vectors as vec

    embedder = SyntheticQueryEmbedder()
    start = time.perf_counter()
    idx = open_index(folder, embedder=embedder)
    load_s = time.perf_counter() - start
    queries = synthetic_queries(n_queries)
    if exact:
        import faiss

        flat = faiss.IndexFlatIP(idx.vectors.shape[1])
        for s in range(0, len(idx.vectors), 100_000):
            flat.add(np.ascontiguousarray(idx.vectors[s:s + 100_000]))
        idx.faiss = flat
        # every field exact and scored with its float vectors: no FAISS index, no 8-bit codes
        idx.titles = vec.DenseField(idx.titles.vectors)
        idx.sentences = vec.DenseField(idx.sentences.vectors)
        idx.codes = None
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


def one_machine_limit(results: dict) -> str:
    """Where one machine stops, extrapolated linearly from the two largest measured banks."""
    rows = sorted(results.get("scale", []), key=lambda r: r["n"])
    if len(rows) < 2:
        return "Run the scale part with at least two sizes to extrapolate."
    a, b = rows[-2], rows[-1]
    per_m = (b["n"] - a["n"]) / 1e6
    own_per_m = (b["after_queries"]["anon_mb"] - a["after_queries"]["anon_mb"]) / per_m
    disk_per_m = (b["disk_mb"] - a["disk_mb"]) / per_m
    build_per_m = (b["build_s"] - a["build_s"]) / per_m
    ram_mb = results["machine"]["ram_gib"] * 1024
    usable = 0.5 * ram_mb  # half the RAM: the page cache, the app and other users need the rest
    fit_m = b["n"] / 1e6 + (usable - b["after_queries"]["anon_mb"]) / max(own_per_m, 1e-9)
    return (f"From {a['n']:,} to {b['n']:,} chunks, the search process's own memory (FAISS indexes, lexical index, "
            f"questions) grew by **{own_per_m:,.0f} MB per million chunks**, the index folder by "
            f"**{disk_per_m / 1024:,.1f} GB per million** (the float vector files and the candidates' 8-bit codes) and the build "
            f"by **{build_per_m:,.0f} s per million** (all roughly linear). With half of this machine's "
            f"{results['machine']['ram_gib']:.0f} GiB for the process, one machine holds about **{fit_m:,.0f} million "
            f"chunks**; its index folder would be about {b['disk_mb'] / 1024 + disk_per_m / 1024 * (fit_m - b['n'] / 1e6):,.0f} GB, "
            f"which the page cache could no longer hold, so scoring the candidates would read from disk, and the build "
            f"would take about {(b['build_s'] + build_per_m * (fit_m - b['n'] / 1e6)) / 60:,.0f} minutes on these "
            f"{results['machine']['cpus']} cores. Latency grows slower than the bank (p50 {_ms(a['p50_ms'])} → "
            f"{_ms(b['p50_ms'])}): IVF scans nprobe/nlist of each field, while BM25 touches every posting of the "
            f"query's words and the candidate scoring reads a fixed number of rows. Memory, the page cache for "
            f"the index files and the single-process rebuild are the walls.")


def report(results: dict, command: str, plot_path: Path | None) -> str:
    m = results["machine"]
    out = ["# Benchmarks", "",
           f"Generated by `{command}` on {results['started']} in {results['total_s'] / 60:.1f} minutes; raw "
           "figures in `build/bench/speed.json`. Every comparison below comes from this one run, with the "
           "peers interleaved query by query: other jobs share this machine, so absolute timings drift between "
           "runs, ratios much less.", ""]
    for note in results.get("notes", []):
        out += [f"Note: {note}", ""]
    if results.get("partial"):
        out += ["**Partial run** (quick mode, chosen sizes or skipped parts): not the committed figures.", ""]
    out += ["## Machine", "",
            "| | |", "|---|---|",
            f"| CPU | {m['cpu_model']} |", f"| cores (nproc) | {m['cpus']} |", f"| RAM | {m['ram_gib']} GiB |",
            f"| OS | {m['os']} |", f"| Python | {m['python']} |",
            f"| load average before / after | {', '.join(f'{x:.1f}' for x in m['load_before'])} / "
            f"{', '.join(f'{x:.1f}' for x in m.get('load_after', ()))} |",
            "| versions | " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + " |", "",
            "## Commands", "",
            "```",
            "make bench                       # .venv-bench/bin/python -m bench speed  (everything, this file)",
            "python -m bench speed --quick    # fewer repetitions, 10k and 100k banks (build/bench/)",
            "python -m bench speed --sizes 10000,100000 --skip warm,cold,ingest",
            "```", "",
            "What each part runs:", "",
            "1. **Warm latency** — in one process: `open_index(build/index).search(q, k=5)`; txtai 9 "
            "`Embeddings({path: <bundled model folder>, method: sentence-transformers, content: True, hybrid: True})` "
            "indexed over the same section texts, `.search(q, 5)`; `bench/plain.py`'s `PlainSearch.search(q, 5)` "
            f"(sentence-transformers encode + FAISS IndexFlatIP). {len(QUERIES)} distinct queries (fewer with "
            "--quick), each asked once per system after three warm-up queries, systems interleaved.",
            "2. **Cold one-shot** — process start to answer, median of 5 alternating runs each: "
            "`python -m index search \"how do I detect leakage\"` vs "
            "`python bench/plain.py \"how do I detect leakage\"`. "
            "One more run under `python -X importtime` lists any torch / transformers / sentence_transformers import.",
            "3. **Ingest** — `python -m ingest --content <copy of content/> --index <fresh folder> --quiet` three "
            "times: full build (fresh folder: model load, embedding, ONNX export), unchanged re-run, and a re-run "
            "after one sentence was appended to one file.",
            "4. **Scale** — `python -m bench speed --scale-worker N`, one process per size: it writes a synthetic "
            "index folder of N chunks in the real format (N/5 questions of 5 sections, each with a title, two "
            "aliases, one or two topics, 2–5 sentences per section; every file written as ingest writes it, "
            "through the same `write_dense_fields`, `build_field_indexes`, `vectors.build`, `LexicalIndex.build` "
            "and `store.publish`), then starts a fresh process that runs `open_index(folder, "
            "embedder=<synthetic query embedder>)` (manifest, every file's SHA-256, load: the load time) and "
            "`idx.search(q, k=10)` for 200 three-word queries one at a time (p50, p95, and this process's own "
            "peak RSS from VmHWM). recall@10: a third process runs the first 50 queries through the same search "
            "with every dense field exact (a flat scan of sections, sentences and titles) and every candidate scored "
            "with the float vectors (no 8-bit codes), and compares the top 10 "
            "chunk ids.",
            ""]
    out += ["## Targets", "", "| target | measured | |", "|---|---|---|"]
    out += [f"| {t} | {v} | {ok} |" for t, v, ok in targets(results)]
    out.append("")
    warm = results.get("warm")
    if warm:
        names = {"project": "this project (hybrid, ONNX query model)", "txtai": "txtai hybrid",
                 "plain": "plain script (sentence-transformers + FAISS flat, dense only)",
                 "project_repeat": "this project, repeated query (embedding cache hit)"}
        out += ["## 1. Warm latency per query", "", "| system | p50 | p95 | queries |", "|---|---|---|---|"]
        out += [f"| {names.get(k, k)} | {_ms(v['p50_ms'])} | {_ms(v['p95_ms'])} | {v['n']} |"
                for k, v in warm.items() if isinstance(v, dict)]
        out += ["", f"The peers run torch with its default {warm.get('peer_torch_threads', '?')} threads, as a user "
                "would; this project's query model runs two onnxruntime threads that sleep when idle (see the choices "
                "under section 4). Query embedding is most of every system's time here; the project's search without "
                "it is the repeated-query row. The ratio to txtai depends on the machine's load more than on either "
                "code: txtai's two torch threads suffer most from other jobs. Earlier runs: 2026-11-24 21:27, load "
                "average 20, one ONNX thread: this project 23.0 ms, txtai 343.8 ms, 0.07×; 2026-11-25 00:05, load "
                "average 1, one ONNX thread: 7.28 ms vs 16.5 ms, 0.44× (not met). The ONNX embedding, one thread, "
                "was ~4.8 ms of those 7.28 ms; two non-spinning threads took a dozen-token query from p50 5.7 to "
                "4.0 ms on an idle machine and from 4.8 to 4.4 ms with the other core busy (two spinning threads: "
                "5.7 ms, p95 12.9 ms). The search itself is ~1.3 ms, of which ~0.4 ms finds each hit's "
                "matched words.", ""]
    cold = results.get("cold")
    if cold:
        torch_note = ("none" if not cold["project_imports_torch"]
                      else ", ".join(cold["project_imports_torch"][:8]))
        out += ["## 2. Cold one-shot lookup (process start → answer)", "", "| command | median | runs |",
                "|---|---|---|",
                f"| `python -m index search \"…\"` | {cold['project']['median_s']:.2f} s | "
                + ", ".join(f"{x:.2f}" for x in cold["project"]["all_s"]) + " |",
                f"| `python bench/plain.py \"…\"` | {cold['plain']['median_s']:.2f} s | "
                + ", ".join(f"{x:.2f}" for x in cold["plain"]["all_s"]) + " |", "",
                f"torch / transformers / sentence_transformers modules imported by the CLI's search: **{torch_note}**.",
                ""]
    ingest = results.get("ingest")
    if ingest:
        msg = ingest["messages"]
        out += ["## 3. Ingest", "", "| run | wall time | ingest's own report |", "|---|---|---|",
                f"| full build, fresh folder | {ingest['full_s']:.1f} s | {msg['full']} |",
                f"| unchanged re-run | {ingest['unchanged_s']:.2f} s | {msg['unchanged']} |",
                f"| one file changed (`{ingest['changed_file']}`) | {ingest['one_changed_s']:.1f} s | "
                f"{msg['one_changed']} |", "",
                "The one-file re-run embeds only the changed sections but still starts torch to do it "
                "(sentence-transformers stays the reference embedder at ingest); most of its time is that import.",
                ""]
    rows = results.get("scale")
    if rows:
        out += ["## 4. Scale (synthetic banks, the whole `Index.search`)", "",
                "| chunks | sentences / names | FAISS indexes | write + publish | load (`open_index`) | "
                "peak RSS | at the end: own / mapped files | p50 | p95 | exact p50 | recall@10 |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            out.append(f"| {r['n']:,} | {r['sentences']:,} / {r['names']:,} | {_kinds(r)} | {r['build_s']:.0f} s | "
                       f"{r['load_s']:.1f} s | {r['peak_rss_mb']:,.0f} MB | {r['after_queries']['anon_mb']:,.0f} / "
                       f"{r['after_queries']['file_mb']:,.0f} MB | {_ms(r['p50_ms'])} | {_ms(r['p95_ms'])} | "
                       f"{_ms(r['exact_p50_ms'])} | {r['recall_at_10']:.3f} |")
        out.append("")
        if plot_path:
            rel = plot_path.relative_to(ROOT) if plot_path.is_relative_to(ROOT) else plot_path
            out += [f"![latency vs bank size]({rel.as_posix()})", ""]
        out += [
            "**The synthetic bank.** Vectors: the real bank's mean plus random mixtures of its rows' deviations "
            "plus isotropic noise, normalized (`synthetic_vectors`): their pairwise cosines match the real "
            "bank's (mean 0.23 vs 0.23, 90th percentile 0.45 vs 0.39). Uniformly random unit vectors were tried "
            "first and are not used: in 384 dimensions they have no neighbourhoods (every pair is at cosine "
            "0 ± 0.05), so the \"true\" top 10 is noise and no approximate index recovers it — HNSW (M 32) "
            "reached recall@10 0.59 at efSearch 512 on 100k of them, IVF less. Texts: 12–36 words drawn "
            "from the real bank's 1,274 words plus made-up words (30k in all) with Zipf–Mandelbrot frequencies "
            "(p ∝ 1/(rank + 10): the commonest word is ~1% of words, in ~25% of sections); queries are three "
            "words drawn the same way. Query embedding is not part of these figures (it is constant in bank "
            "size: section 1).", "",
            "**Every dense field by size.** The search reads five dense fields: sections, sentences (3.5 per "
            "section), names (a question's title and each alias), titles and, for related questions, each "
            "question's mean sentence vector. Each field at or below `vectors.EXACT_MAX` (20k) rows is scanned "
            "exactly with NumPy, as before (the real bank's results are bit for bit unchanged); above it, titles "
            "and related vectors get an IVF + SQ8 index of their own (`<field>.faiss`, chosen by "
            "`vectors.build_field` like the sections') that proposes candidates, and every field is then scored "
            "only at the candidate questions' rows: with the float vectors up to `vectors.CODES_ABOVE` (20k) "
            "chunks, above it from 8-bit codes (below). Sentences get IVF + SQ8 up to "
            "`vectors.PQ_ABOVE` (1M sentences, about 285k chunks) and above it IVF with 4-bit PQ codes scanned "
            "by FAISS's fast scan (`IndexIVFPQFastScan`, 96 sub-vectors: 48 bytes a vector instead of 384, "
            "170 MB instead of 1.3 GB at 1M chunks); the codes only choose candidates. Without any sentence index "
            "above 1M sentences (sentences only scoring the other legs' candidates) the 1M peak was 2,428 MB but "
            "recall@10 fell to 0.916 (0.946 at 100k, 0.974 at 10k when applied there), against the exact search "
            "with sentence candidates. Names never propose candidates, so they need no index at any size.", "",
            "**Memory: what the peak is made of.** The vector files stay on disk; scoring the candidates reads their "
            "rows (at 1M chunks one block of 8-bit codes per candidate question: about 490 blocks, 12.5k rows, "
            "4.8 MB a query) with `pread` (`vectors.read_rows`: one call per run of adjacent rows, straight into "
            "the array returned) and frees them after the query. "
            "Reading them through the memory map instead left each row's page resident together with its "
            "neighbours (Linux fault-around maps 16 pages per fault even under MADV_RANDOM): 7.7 GB of mapped pages "
            "after 200 queries at 1M, and ~13k page faults per query. The kernel's page cache still holds the "
            "pages read (shared, evictable, not this process's memory). The table splits the RSS at the end of the "
            "run into the process's own (anonymous) memory and mapped file pages (the fields at or below EXACT_MAX "
            "rows, scanned whole); the peak RSS column and the target use the whole VmHWM.", "",
            "**Why IVF + SQ8 above 20k chunks** (measured here while choosing): HNSW-flat (M 32, efConstruction "
            "40) took 83–165 s to build per 100k vectors on these 2 shared cores, so 15–30 min at 1M, over the "
            "budget; IVF with 1024 lists trains on 41k rows and adds 1M rows in 15–45 s, depending on the load "
            "from other jobs. At 1M, nprobe 8 / 16 / 32 / 64 gave recall@10 of the dense leg alone 0.70 / 0.85 / "
            "0.95 / 0.98 at 0.7 / 1.4 / 3.0 / 5.8 ms per query; the whole search, whose candidates are scored "
            "again apart from the index, loses less: with sections at nprobe 32 instead of 64 its recall@10 went from 0.970 to 0.966 "
            "(2.4 ms instead of 4.5 ms a scan), hence nprobe = nlist/32 (at least 32: at 100k, 16 of 256 lists "
            "gave 0.92 for the dense leg), which changes only the 1M bank (sections 32 of 1024 lists, sentences "
            "64 of 2048). SQ8 stores a vector in 384 bytes instead of 1,536, which keeps the 1M build inside the "
            "memory target while the float vectors are still in RAM. A flat scan stays exact up to 20k chunks "
            "(a few ms).", "",
            "**Choices for the 1M query, measured on the 1M bank in one process** (whole-search recall@10 against "
            "the exact search, 50 queries; CPU ms a query; other jobs on the machine). Kept: sentences' fast scan "
            "(7.2 → 1.4 ms a scan at nprobe 128, 0.8 ms at 64; recall@10 0.970 → 0.962 / 0.964); NumPy's BLAS on "
            "one thread, like FAISS (`vectors.one_thread`: with another job on the second core, two OpenBLAS "
            "threads made the candidates' matrix-vector products cost a whole query 71–76 ms of CPU instead of "
            "31–43 ms); rows read straight into the returned array (`read_rows` 13.1 → 7.5 ms a query); "
            "`top_rows` bounded by block maxima (1M BM25 scores: 1.45 → 0.72 ms); the search's candidate rows "
            "and per-leg ranks without per-question lists or bank-sized arrays (0.9 + 1.3 ms). Rejected: fewer "
            "candidates per leg (50 instead of 100: recall@10 0.726, because the fusion standardises each leg over "
            "the candidates, so the candidate set is part of the ranking); fast scan for the sections (recall@10 "
            "0.910 with 96 sub-vectors, 0.934 with 192) or the titles (0.936); 4,096 section lists instead of 1,024 "
            "(nprobe 64: 0.948; nprobe 128: 0.962 but slower than now); vector files stored as float16 (half the "
            "bytes read, but NumPy's float16 → float32 conversion made the reads 19.8 ms a query instead of "
            "10.3 ms); reading with two threads (7.7 vs 7.9 ms: the copy from the page cache is the cost, not the "
            "calls).", "",
            "**Scoring a large bank's candidates from 8-bit codes** (2026-11-25, after the run of 00:34 UTC that "
            "gave 1M p50 24.0 ms). The fusion standardises every leg over all candidate questions (~490 at 1M), so "
            "each query scored all their sections, sentences and names (~12.5k rows) and titles: ~20 MB of float "
            "rows read with ~1,960 preads from three files and the titles, then read again by the product. Per "
            "query, statement by statement, that was 11.9 ms of a 24.3 ms query (sections 2.9, sentences 5.4, "
            "names 2.1, titles 1.5): a pread of a few rows costs ~2.5 µs, and a byte copied from the page cache "
            "~0.3 ms per MB here. Now, above `vectors.CODES_ABOVE` (20k) chunks, ingest also writes "
            "`codes.sq8.npy`: every section, sentence and name as 8-bit codes (FAISS's scalar quantizer, one range "
            "per dimension taken over every row, so nothing is clipped), laid out question by question (names, "
            "sections, sentences), so a candidate question is one read of ~10 KB; blocks of 256 rows are decoded "
            "into a buffer that stays in the CPU cache. The title field, weighted 0, is read only at the title "
            "leg's top 10 rows (it gives no_close_match its best cosine), and the per-question maxima and best-3 "
            "sentence means are reductions over runs instead of `np.maximum.at` and a lexsort. Measured on the "
            "kept 1M bank, one process, 200 queries, runs alternated with the previous code (p50 23.3–25.0 ms): "
            "reductions and titles 21.0–21.5 ms (same hits for all 200 queries); codes in one file per field "
            "(three reads per question) 18.3–18.8 ms; codes question by question 14.4–16.6 ms. recall@10 of the "
            "whole search against the float search: 0.958 (float scoring: 0.960). Costs: the 1M index folder "
            "+1.9 GB (5.1M rows × 384 bytes), its build +13 s, the process +~20 MB (each row's place in its "
            "block). Tried and dropped: the same question-by-question layout with float vectors (exact, but +7.6 "
            "GB on disk and the same 20 MB copied: reads 5.8–7.8 ms against 8.0–8.8 ms); splitting large reads "
            "over two threads (float sentence rows alone 3.5–4.0 → 2.3–2.8 ms, but with codes the whole query "
            "was no faster: 14.6–16.2 ms on one thread, 15.0–18.5 ms on two, and ~1.3 ms more CPU); float16 "
            "codes (FAISS decodes 13k rows in ~7 ms) and bfloat16 through NumPy shifts (~6 ms): slower than "
            "reading the floats; scoring codes with FAISS searches over a temporary index (a k = n heap or a "
            "range search: 7.5–16 ms).", "",
            "**Where a 1M query's time goes now** (the kept 1M bank, one process, 200 queries, statement by "
            "statement, p50 15.8 ms, mean 16.3 ms): the FAISS searches 5.1 ms (sections 2.7, titles 1.2, "
            "sentences 1.2: the section lists' SQ8 codes alone are ~12.5 MB a query); BM25 2.6 ms (scores 1.1, "
            "top rows 1.1, titles 0.3); the candidates' codes 4.5 ms (read 2.7: ~490 preads, 4.8 MB; decode and "
            "product 1.75); candidate rows 0.9 ms; gathering and per-row maxima 0.5 ms; fusion 0.85 ms; the "
            "title top 10 0.3 ms; building the hits and no_close_match's features 0.9 ms; the query's words "
            "and vector 0.5 ms. Another run minutes later gave p50 19.4 ms with every step ~20% slower: this "
            "machine's speed drifts between runs by about that much.", "",
            "**Other measured choices.** FAISS and NumPy's BLAS run one thread per query: on this shared 2-core "
            "machine a second OpenMP thread made a 10k flat search 36 ms instead of 6 ms. The ONNX query session "
            "runs two threads with spin-waiting off: with it on (onnxruntime's default), a second thread made a "
            "query embedding 28 ms instead of 10 ms under load. `import bm25s` cost 0.6–0.8 s, of which tqdm (it "
            "reads package metadata at import) and scipy.sparse (which drags in numpy.f2py and charset_normalizer "
            "through scipy's array-API shim) were about 0.4–0.7 s; `index/lexical.py` imports bm25s without them "
            "and builds with bm25s's NumPy CSC builder (identical arrays).", ""]
        out += ["## Where one machine stops", "", one_machine_limit(results), ""]
    out += ["## Moving to a distributed engine", "",
            "The index layer would move to **OpenSearch with the k-NN plugin** (one index, two fields per "
            "section: a `knn_vector` field (HNSW, Lucene or FAISS engine) and a `text` field with BM25), because "
            "it holds both legs of this hybrid search in one engine, shards and replicates them, and fuses them "
            "server-side with its hybrid query and normalization/RRF search pipeline. A Qdrant cluster would "
            "serve the dense leg equally well (sharded HNSW, payload filters on section and topic, sparse vectors "
            "for BM25-like scoring), but the lexical leg with stemming and typo repair maps more directly onto "
            "OpenSearch's analyzers.", "",
            "What would change in the code:", "",
            "- `index/vectors.py` and `index/lexical.py` become one client module (`index/remote.py`) that sends a "
            "hybrid query (vector + text, filters as `terms` on `section` and `topics`) and gets back chunk ids "
            "and both legs' scores; FAISS row numbers disappear, chunk ids (`question#section`) become document "
            "ids.",
            "- `index/search.py` keeps normalisation, intent detection and grouping, but fuses what the engine "
            "returns (or delegates fusion to a search pipeline and keeps only grouping); the candidate scoring "
            "against local vectors and codes goes, since vectors no longer live in the process.",
            "- `ingest/build.py` keeps content validation, chunking and embedding reuse, and writes by bulk "
            "indexing into a new versioned index, then switches an alias — the engine's form of today's atomic "
            "`CURRENT` switch; the manifest (model, weights hash, chunking) becomes the index's metadata and is "
            "checked by `open_index` the same way.",
            "- The query path is unchanged up to the vector: the ONNX embedder and its cache stay in the app "
            "process (or move to a small embedding service), so the engine never needs the model.", ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench speed", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions; banks of 10k and 100k")
    parser.add_argument("--sizes", help="comma-separated bank sizes for the scale part (default 10000,100000,1000000)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: warm,cold,ingest,scale")
    parser.add_argument("--index", default=str(ROOT / "build" / "index"), help="the real index (make index)")
    parser.add_argument("--out", help="Markdown report (default BENCHMARKS.md; build/bench/ for partial runs)")
    parser.add_argument("--from-json", metavar="JSON", help="only re-render the report and plot from a saved run")
    parser.add_argument("--keep-banks", metavar="DIR", help="keep the synthetic banks in DIR/<size> and search "
                        "a bank already there again instead of rebuilding it (its build figures are the saved ones)")
    parser.add_argument("--scale-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scale-queries", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--scale-search", help=argparse.SUPPRESS)
    parser.add_argument("--scale-exact", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

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
        results["warm"] = warm_latency(index_dir, QUERIES[:15] if args.quick else QUERIES)
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
    target.write_text(report(results, command, plot_path), encoding="utf-8")
    print(f"wrote {target} ({results['total_s'] / 60:.1f} min run)", file=sys.stderr)
    return 0
