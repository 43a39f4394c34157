"""Query-model options measured against the float ONNX export of the same weights (docs/models.md).

    python -m bench.models --index /tmp/h7/index-mpnet --work /tmp/h7/variants
    python -m bench.models --index /tmp/h7/index-mpnet --work /tmp/h7/variants --variants fused,int8-static
    python -m bench.models --index /tmp/h7/index-large-mpnet --quality large    # 61-question bank, dev and test
    python -m bench.models --index /tmp/i20q/index-mpnet --speed /tmp/i20q/index-minilm   # warm, alternating
    python -m bench.models --index /tmp/i20q/index-mpnet --sessions        # threads, optimization level
    python -m bench.models --index /tmp/i20q/index-mpnet --lengths          # embedding time by query length
    python -m bench.models --index /tmp/i20q/index-mpnet --query-model --also /tmp/i20q/index-large-mpnet   # the bar
    python -m bench.models --index /tmp/i20q/index-mpnet --query-model --candidate int8-attention --work /tmp/i20q/v
    python -m bench.models --index /tmp/h7/index-minilm --cold /tmp/h7/index-mpnet         # one-shot lookups

For every option: its file size, p50/p95 per query (each query embedded by the float
model and by the option back to back, in alternating order, so both see the same machine load), cosine to
the float vectors (mean/min), and whether the top-10 is identical to the float model's on every query of
bench/queries.yaml, both for a plain cosine search over the section vectors and for the whole search
(`index.open_index(..., embedder=...)`). The float export and the candidates are built once into --work and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from index import format

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "bench" / "queries.yaml"


@dataclass(frozen=True)
class Option:
    name: str
    what: str  # one line for the table


OPTIONS = (
    Option("float", "float ONNX as exported, ORT_ENABLE_ALL at load (the default level), 2 threads"),
    Option("float-basic", "float, ORT_ENABLE_BASIC only"),
    Option("float-1thread", "float, 1 intra-op thread"),
    Option("offline", "float graph optimized offline (ORT_ENABLE_EXTENDED), saved, loaded with no further passes"),
    Option("fused", "onnxruntime.transformers.optimizer, model_type bert (12 heads, 768): Gelu/SkipLayerNorm fused"),
    Option("trunc32", "float, queries truncated to 32 tokens"),
    Option("int8-dynamic-ffn", "dynamic int8, per-channel, only the feed-forward MatMuls of layers 1-10"),
    Option("int8-attention", "dynamic int8, per-channel, only the attention projections (q, k, v, o) of every layer"),
    Option("w8b32", "MatMulNBits: 8-bit symmetric weights, one scale per 32, int8 compute (quantize_weights)"),
    Option("w8b16", "the same with one scale per 16 weights"),
    Option("fused-w8", "the fused query graph (attention kept float in its fused node), 8-bit weights with int8 "
                       "compute on the feed-forward and attention-output MatMuls, one scale per 32"),
    Option("fused-w8-up16", "the fused query graph, 8-bit weights on the feed-forward intermediate MatMuls only, one "
                            "scale per 16"),
    Option("int8-static", "static int8 QDQ, per-channel weights, MatMul only, MinMax calibration on the bank's texts"),
)


def bank_texts(content_dir: Path) -> list[str]:
    """What ingest embeds (sections, sentences, titles, names): the calibration set; never the eval queries."""
    from ingest.build import chunk, names, sentences, title_text
    from ingest.content import load_bank

    out = []
    for q in load_bank(content_dir):
        out += [c.embed_text for c in chunk(q)] + [t for _, t in sentences(q)] + [title_text(q)] + names(q)
    return list(dict.fromkeys(out))


def load_query_texts() -> list[str]:
    return [str(item["q"]) for item in yaml.safe_load(QUERIES.read_text(encoding="utf-8"))["queries"]]


def ffn_matmuls(model_path: Path, layers: range) -> list[str]:
    """Names of the feed-forward MatMul nodes (intermediate and output dense) of the given encoder layers."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    pattern = re.compile(r"/layer\.(\d+)/(intermediate|output)/dense/MatMul$")
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and (m := pattern.search(n.name))
            and int(m.group(1)) in layers]


def all_matmuls(model_path: Path) -> list[str]:
    import onnx

    return [n.name for n in onnx.load(str(model_path), load_external_data=False).graph.node if n.op_type == "MatMul"]


class Calibration:
    """onnxruntime CalibrationDataReader over tokenized bank texts, one text per run (as queries are)."""

    def __init__(self, tokenizer_folder: Path, max_seq_length: int, texts: list[str], inputs: set[str]):
        from index.embed import OnnxEmbedder

        self.tok = OnnxEmbedder.tokenizer_for(tokenizer_folder, max_seq_length)
        self.texts, self.inputs, self.i = texts, inputs, 0

    def get_next(self):
        if self.i >= len(self.texts):
            return None
        e = self.tok.encode(self.texts[self.i])
        self.i += 1
        feeds = {"input_ids": np.array([e.ids], dtype=np.int64), "attention_mask": np.array([e.attention_mask],
                                                                                            dtype=np.int64)}
        return {k: v for k, v in feeds.items() if k in self.inputs}

    def rewind(self):
        self.i = 0


def build_option(name: str, float_model: Path, work: Path, tokenizer_folder: Path, max_seq_length: int,
                 calib: list[str]) -> Path:
    """The model file of an option (built into `work` the first time)."""
    import onnxruntime as ort

    target = work / f"{name}.onnx"
    if name in ("float", "float-basic", "float-1thread", "trunc32"):
        return float_model
    if target.is_file():
        return target
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f".tmp-{name}.onnx"
    if name == "offline":
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        opts.optimized_model_filepath = str(tmp)
        ort.InferenceSession(str(float_model), opts, providers=["CPUExecutionProvider"])
    elif name == "fused":
        from onnxruntime.transformers import optimizer

        model = optimizer.optimize_model(str(float_model), model_type="bert", num_heads=12, hidden_size=768,
                                         opt_level=0)
        print(f"  fused: {model.get_fused_operator_statistics()}", file=sys.stderr)
        model.save_model_to_file(str(tmp))
    elif name == "int8-attention":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(float_model), str(tmp), per_channel=True, weight_type=QuantType.QInt8,
                         nodes_to_quantize=[n for n in all_matmuls(float_model)
                                            if re.search(r"/attention/attn/[qkvo]/MatMul$", n)])
    elif name == "int8-dynamic-ffn":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(float_model), str(tmp), per_channel=True, weight_type=QuantType.QInt8,
                         nodes_to_quantize=ffn_matmuls(float_model, range(1, 11)))
    elif name in ("w8b32", "w8b16"):
        from ingest.onnx_export import quantize_weights

        quantize_weights(float_model, tmp, block_size=int(name[3:]))
    elif name in ("fused-w8", "fused-w8-up16"):
        from index.embed import ONNX_QUERY
        from ingest.onnx_export import quantize_weights

        fused = tokenizer_folder / ONNX_QUERY  # the model cache's folder, beside its tokenizer
        if not fused.is_file():
            raise SystemExit(f"{fused} is missing: build an index with this model first (it makes the fused graph)")
        if name == "fused-w8":
            quantize_weights(fused, tmp, block_size=32)
        else:
            quantize_weights(fused, tmp, block_size=16, only=lambda node: "/intermediate/dense/" in node)
    elif name == "int8-static":
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        pre = work / "preprocessed.onnx"
        if not pre.is_file():
            quant_pre_process(str(float_model), str(pre), skip_symbolic_shape=False)
        inputs = {i.name for i in ort.InferenceSession(str(pre), providers=["CPUExecutionProvider"]).get_inputs()}
        nodes = all_matmuls(pre)
        quantize_static(str(pre), str(tmp), Calibration(tokenizer_folder, max_seq_length, calib, inputs),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes,
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    else:
        raise SystemExit(f"unknown option {name!r}; choose from {', '.join(o.name for o in OPTIONS)}")
    tmp.rename(target)
    return target


def embedder_for(name: str, model_file: Path, tokenizer_folder: Path, max_seq_length: int):
    """An OnnxEmbedder running the option's model with the option's session settings."""
    import onnxruntime as ort

    from index.embed import OnnxEmbedder

    started = time.perf_counter()
    emb = OnnxEmbedder(tokenizer_folder, 32 if name == "trunc32" else max_seq_length,
                       threads=1 if name == "float-1thread" else None, model_file=str(model_file))
    if name in ("float-basic", "offline"):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = 2, 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        opts.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_BASIC if name == "float-basic"
                                         else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        started = time.perf_counter()
        emb.session = ort.InferenceSession(str(model_file), opts, providers=["CPUExecutionProvider"])
    emb.start_seconds = time.perf_counter() - started
    emb.encode(["warm up"])
    return emb


def onnx_folder(entry: dict) -> Path:
    """The model cache folder a manifest's model.onnx entry names, its tokenizer checked."""
    from index.embed import ONNX_TOKENIZER, verified_onnx_folder

    return verified_onnx_folder(entry, (ONNX_TOKENIZER,))


def top10(vectors: np.ndarray, queries: np.ndarray) -> list[tuple[int, ...]]:
    scores = queries @ vectors.T
    return [tuple(np.argsort(-row, kind="stable")[:10].tolist()) for row in scores]


def measure(index_dir: Path, work: Path, names: list[str], whole: bool) -> list[dict]:
    from index import store
    from index.search import open_index

    version = store.current_version(index_dir)
    manifest = store.read_manifest(version, index_dir)
    model = manifest["model"]
    folder = onnx_folder(model["onnx"])  # its tokenizer.json
    max_len = int(model["max_seq_length"])
    float_model = work / "float.onnx"
    if not float_model.is_file():
        from index.embed import resolve_model
        from ingest.onnx_export import export_float

        work.mkdir(parents=True, exist_ok=True)
        export_float(resolve_model(model["source"]).path, work / ".tmp-float.onnx")
        (work / ".tmp-float.onnx").rename(float_model)
    queries = load_query_texts()
    calib = bank_texts(Path(manifest["content_dir"]))
    sections = np.asarray(format.read_vectors(version, "sections"), dtype=np.float32)

    base = embedder_for("float", float_model, folder, max_len)
    base_vectors = base.encode(queries, batch_size=1)
    base_top = top10(sections, base_vectors)
    base_search = None
    if whole:
        idx = open_index(index_dir, check_stale=False, embedder=base)
        base_search = [tuple(h.chunk_id for h in idx.search(q, k=10).hits) for q in queries]
    rows = []
    for name in names:
        print(f"{name}: building", file=sys.stderr, flush=True)
        path = build_option(name, float_model, work, folder, max_len, calib)
        emb = embedder_for(name, path, folder, max_len)
        print(f"{name}: timing {len(queries)} queries", file=sys.stderr, flush=True)
        t_base, t_opt, vecs = [], [], []
        for i, q in enumerate(queries):
            pair = [(base, t_base), (emb, t_opt)]
            for e, times in (pair if i % 2 == 0 else pair[::-1]):
                t0 = time.perf_counter()
                v = e.encode([q])[0]
                times.append((time.perf_counter() - t0) * 1000)
                if e is emb:
                    vecs.append(v)
        vecs = np.vstack(vecs)
        cos = np.sum(vecs * base_vectors, axis=1)
        plain = top10(sections, vecs)
        row = {
            "option": name, "size_mb": path.stat().st_size / 2**20, "start_s": emb.start_seconds,
            "p50": float(np.percentile(t_opt, 50)), "p95": float(np.percentile(t_opt, 95)),
            "float_p50": float(np.percentile(t_base, 50)), "float_p95": float(np.percentile(t_base, 95)),
            "cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
            "plain_same": sum(a == b for a, b in zip(plain, base_top)),
        }
        if whole:
            idx = open_index(index_dir, check_stale=False, embedder=emb)
            got = [tuple(h.chunk_id for h in idx.search(q, k=10).hits) for q in queries]
            row["search_same"] = sum(a == b for a, b in zip(got, base_search))
        row["n"] = len(queries)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def report(rows: list[dict]) -> str:
    head = ("| option | file MB | p50 ms | p95 ms | float p50 / p95, same run | p50 / float's | cosine to float "
            "mean / min | top-10 identical, cosine search | top-10 identical, whole search |\n|" + "---|" * 9)
    lines = [head]
    for r in rows:
        lines.append(f"| {r['option']} | {r['size_mb']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | "
                     f"{r['float_p50']:.1f} / {r['float_p95']:.1f} | {r['p50'] / r['float_p50']:.2f} | "
                     f"{r['cos_mean']:.6f} / {r['cos_min']:.6f} | "
                     f"{r['plain_same']}/{r['n']} | {r.get('search_same', '–')}/{r['n']} |")
    what = {o.name: o.what for o in OPTIONS}
    return "\n".join(lines + [""] + [f"- {r['option']}: {what.get(r['option'], '')}" for r in rows])


def large_bank_queries(question_ids: set[str], section_keys: set[str]) -> list:
    """bench/queries.yaml relabelled for the 61-question bank, plus the large bank's own queries."""
    from bench.eval import Query, load_queries, split_of

    folder = ROOT / "bench" / "banks" / "large"
    also: dict[str, list[str]] = {}
    for name in ("relabel-a.yaml", "relabel-b.yaml"):
        for item in yaml.safe_load((folder / name).read_text(encoding="utf-8"))["relabel"]:
            also.setdefault(str(item["q"]), []).extend(item["also"])
    turned = {str(item["q"]): item for item in
              yaml.safe_load((folder / "relabel-offtopic.yaml").read_text(encoding="utf-8"))["relabel"]}
    out = []
    for q in load_queries(QUERIES, question_ids, section_keys):
        if q.q in turned:
            item = turned[q.q]
            q = Query(q.q, item["style"], tuple(item["expect"]), item.get("section"), split_of(q.q))
        elif q.q in also:
            q = Query(q.q, q.style, tuple(dict.fromkeys(q.expect + tuple(also[q.q]))), q.section, q.split)
        out.append(q)
    for name in ("queries-a.yaml", "queries-b.yaml"):
        out += load_queries(folder / name, question_ids, section_keys)
    return out


def quality(index_dir: Path, large: bool) -> str:
    """Dense-leg and search figures per split on an index (the large bank's queries when `large`)."""
    from bench.eval import DenseOnly, ProjectSearch, load_queries, summarise
    from index.search import open_index

    idx = open_index(index_dir, check_stale=False)
    ids, keys = {q.id for q in idx.questions}, set(idx.sections)
    queries = large_bank_queries(ids, keys) if large else load_queries(QUERIES, ids, keys)
    lines = [f"{idx.model_name}, {len(idx.questions)} questions, {len(queries)} queries", "",
             "| split | system | n | hit@1 | hit@3 | paraphrase hit@1 / hit@3 | section hit@3 | off-topic flagged "
             "| real flagged |", "|" + "---|" * 9]
    for system in (DenseOnly(idx), ProjectSearch(idx)):
        rankings = [system.rank(q.q) for q in queries]
        for split in ("dev", "test"):
            chosen = [(q, r) for q, r in zip(queries, rankings) if q.split == split]
            m = summarise([q for q, _ in chosen], [r for _, r in chosen], [bool(r.flagged) for _, r in chosen])
            flags = (f"{m['off_recall']:.0%} of {m['n_offtopic']} | {m['real_flagged']:.1%}" if system.name == "search"
                     else "– | –")  # the dense leg alone has no no-match rule
            lines.append(f"| {split} | {system.name} | {m['n']} | {m['hit1']:.3f} | {m['hit3']:.3f} | "
                         f"{m['para_hit1']:.3f} / {m['para_hit3']:.3f} | {m['sec3']:.3f} | {flags} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class QueryPath:
    """One way to embed an index's queries: which ONNX file of the model cache, how many threads, which onnxruntime
    graph optimization level at load."""

    index_dir: Path
    model_file: str  # index.embed.ONNX_FLOAT (the export as made) or ONNX_QUERY (the fused graph)
    threads: int = 2
    level: str = "all"  # ORT_ENABLE_<level>

    def label(self, model_name: str) -> str:
        extra = "".join([f", {self.threads} thread{'s' * (self.threads > 1)}" if self.threads != 2 else "",
                         f", {self.level}" if self.level != "all" else ""])
        return f"{model_name} {self.model_file}{extra}"

    def embedder(self):
        import onnxruntime as ort

        from index import store
        from index.embed import ONNX_TOKENIZER, OnnxEmbedder, verified_onnx_folder

        model = store.read_manifest(store.current_version(self.index_dir), self.index_dir)["model"]
        folder = verified_onnx_folder(model["onnx"], (self.model_file, ONNX_TOKENIZER))
        emb = OnnxEmbedder(folder, int(model["max_seq_length"]), threads=self.threads, model_file=self.model_file)
        if self.level != "all":
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = self.threads, 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.log_severity_level = 3
            opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, f"ORT_ENABLE_{self.level.upper()}")
            emb.session = ort.InferenceSession(str(folder / self.model_file), opts, providers=["CPUExecutionProvider"])
        return model["name"], emb


def speed(paths: list[QueryPath]) -> str:
    """Per query of bench/queries.yaml (each once, so the query cache never answers), the paths in turn, their order
    rotated from one query to the next: the query embedding alone, then the whole search (`open_index(...,
    embedder=...)`, embedding included), each by wall time and by the process's CPU time."""
    from index.search import open_index

    queries = load_query_texts()
    runs = []
    for path in paths:
        name, embedder = path.embedder()  # shared: timing it alone does not fill the index's query cache
        idx = open_index(path.index_dir, check_stale=False, embedder=embedder)
        embedder.encode(["warm up"])
        idx.search("warm up")
        runs.append((path.label(name), embedder, idx))
    times = {label: {k: [] for k in ("embed", "embed_cpu", "search", "search_cpu")} for label, *_ in runs}
    for i, q in enumerate(queries):
        turn = i % len(runs)
        for label, embedder, idx in runs[turn:] + runs[:turn]:
            c0, t0 = time.process_time(), time.perf_counter()
            embedder.encode([q])
            c1, t1 = time.process_time(), time.perf_counter()
            idx.search(q)
            c2, t2 = time.process_time(), time.perf_counter()
            for key, value in (("embed", t1 - t0), ("embed_cpu", c1 - c0), ("search", t2 - t1),
                               ("search_cpu", c2 - c1)):
                times[label][key].append(value * 1000)
    first = runs[0][0]
    lines = [f"{len(queries)} queries, load average {os.getloadavg()[0]:.1f} at the end; ratios are medians of "
             f"per-query ratios to the first row", "",
             "| query path | embedding p50 / p95 ms | embedding CPU p50 ms | whole search p50 / p95 ms | whole search "
             "CPU p50 ms | embedding / first row's | whole search / first row's |", "|" + "---|" * 7]
    for label, *_ in runs:
        t = {k: np.array(v) for k, v in times[label].items()}
        base = {k: np.array(v) for k, v in times[first].items()}
        lines.append(f"| {label} | {np.percentile(t['embed'], 50):.1f} / {np.percentile(t['embed'], 95):.1f} | "
                     f"{np.percentile(t['embed_cpu'], 50):.1f} | {np.percentile(t['search'], 50):.1f} / "
                     f"{np.percentile(t['search'], 95):.1f} | {np.percentile(t['search_cpu'], 50):.1f} | "
                     f"{np.median(t['embed'] / base['embed']):.2f} | {np.median(t['search'] / base['search']):.2f} |")
    return "\n".join(lines)


def by_length(path: QueryPath, other: QueryPath, lengths=(4, 8, 12, 16, 24, 32, 64), reps: int = 40) -> str:
    """Embedding time against the query's length in tokens (synthetic queries of `lengths` tokens), two paths
    alternating: how much a longer query costs, and whether the fused graph's gain depends on it."""
    runs = [(p.label(name), emb) for p in (path, other) for name, emb in [p.embedder()]]
    lines = ["| tokens | " + " | ".join(f"{label} CPU / wall p50 ms" for label, _ in runs) + " | CPU ratio |",
             "|---|---|---|---|"]
    for n in lengths:
        text = " ".join(["model"] * (n - 2))  # one token a word, plus the two special tokens
        cpu, wall = ({label: [] for label, _ in runs} for _ in range(2))
        for rep in range(reps):
            for label, emb in (runs if rep % 2 == 0 else runs[::-1]):
                c0, t0 = time.process_time(), time.perf_counter()
                emb.encode([text])
                cpu[label].append((time.process_time() - c0) * 1000)
                wall[label].append((time.perf_counter() - t0) * 1000)
        p50 = [(float(np.median(cpu[label])), float(np.median(wall[label]))) for label, _ in runs]
        lines.append(f"| {n} | " + " | ".join(f"{c:.1f} / {w:.1f}" for c, w in p50) +
                     f" | {p50[1][0] / p50[0][0]:.2f} |")
    return "\n".join(lines)


class _Precomputed:
    """An embedder that answers from vectors computed beforehand (in batches), keyed by text, and asks `model` for
    any other text (the search embeds a query's text without a section intent such as "example of")."""

    def __init__(self, texts: list[str], vectors: np.ndarray, model):
        self.rows, self.model = dict(zip(texts, vectors)), model

    def encode(self, texts, progress=None, batch_size=32):
        return np.vstack([self.rows[t] if t in self.rows else self.model.encode([t])[0] for t in texts])


def eval_query_texts() -> list[str]:
    """Every distinct evaluation query: bench/queries.yaml, the 61-question bank's sets and the description-style
    set (bench/banks/descriptions.yaml)."""
    from bench.sets import DESCRIPTIONS

    paths = [QUERIES, *sorted((ROOT / "bench" / "banks" / "large").glob("queries-*.yaml")), DESCRIPTIONS]
    out: dict[str, None] = {}
    for path in paths:
        out.update((str(item["q"]), None) for item in yaml.safe_load(path.read_text(encoding="utf-8"))["queries"])
    return list(out)


# Issue 20's bar for an accelerated query path, against the float export: on every query the first question of the
# whole search unchanged, its top 10 the same set on >= 98% of them, cosine >= 0.995 on average and >= 0.99 at least.
BAR_TOP10_SHARE, BAR_COSINE_MEAN, BAR_COSINE_MIN = 0.98, 0.995, 0.99


def query_model_agreement(index_dir: Path, queries: list[str], candidate: Path | None = None) -> dict:
    """The index's query model (the manifest's `query_model`; or the `candidate` ONNX file, a model of the same
    weights and inputs) against the float export of the same weights, each
    query embedded alone as the search embeds it, then the whole search (`open_index(..., embedder=...)`, k=10):
    {"n", "query_model", "cos_mean", "cos_min", "first_same", "top10_same", "passes"} (`passes`: issue 20's bar)."""
    from index import store
    from index.embed import ONNX_FLOAT, ONNX_TOKENIZER, OnnxEmbedder, query_embedder, verified_onnx_folder
    from index.search import open_index

    model = store.read_manifest(store.current_version(index_dir), index_dir)["model"]
    entry, max_len = model["onnx"], int(model["max_seq_length"])
    folder = verified_onnx_folder(entry, (ONNX_FLOAT, ONNX_TOKENIZER))
    models = (OnnxEmbedder(folder, max_len, model_file=ONNX_FLOAT),
              query_embedder(entry, max_len) if candidate is None
              else OnnxEmbedder(folder, max_len, model_file=str(candidate.resolve())))
    exact, fast = (np.vstack([m.encode([q]) for q in queries]) for m in models)
    cos = np.sum(exact * fast, axis=1)
    results = []
    for vectors, m in zip((exact, fast), models):
        idx = open_index(index_dir, check_stale=False, embedder=_Precomputed(queries, vectors, m))
        hits = [idx.search(q, k=10).hits for q in queries]
        results.append([(h[0].question_id if h else None, frozenset(x.chunk_id for x in h)) for h in hits])
    n = len(queries)
    row = {"n": n, "query_model": entry["query_model"] if candidate is None else str(candidate), "cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
           "first_same": sum(a[0] == b[0] for a, b in zip(*results)),
           "top10_same": sum(a[1] == b[1] for a, b in zip(*results))}
    row["passes"] = (row["first_same"] == n and row["top10_same"] >= BAR_TOP10_SHARE * n
                     and row["cos_mean"] >= BAR_COSINE_MEAN and row["cos_min"] >= BAR_COSINE_MIN)
    return row


def query_model_rankings(index_dirs: list[Path], candidate: Path | None = None) -> str:
    """Issue 20's bar for the cache's query model (or `candidate`) on each index, over every evaluation query."""
    from index import store

    queries = eval_query_texts()
    lines = ["| index | model (query model) | queries | cosine to float mean / min | first question unchanged | "
             "top-10 same set | bar |", "|---|---|---|---|---|---|---|"]
    for index_dir in index_dirs:
        name = store.read_manifest(store.current_version(index_dir), index_dir)["model"]["name"]
        r = query_model_agreement(index_dir, queries, candidate)
        n = r["n"]
        lines.append(f"| {index_dir} | {name} ({r['query_model']}) | {n} | {r['cos_mean']:.7f} / {r['cos_min']:.7f} | "
                     f"{r['first_same']}/{n} | {r['top10_same']}/{n} = {r['top10_same'] / n:.1%} | "
                     f"{'met' if r['passes'] else 'MISSED'} |")
    return "\n".join(lines)


PLAIN = """import sys
import numpy as np
from sentence_transformers import SentenceTransformer
vectors = np.load(sys.argv[2], allow_pickle=False)
model = SentenceTransformer(sys.argv[1], device="cpu")
query = model.encode([sys.argv[3]], normalize_embeddings=True)[0]
print(np.argsort(-(vectors @ query))[:5])
"""


def cold(index_dirs: list[Path], reps: int, query: str = "how do I detect leakage") -> str:
    """Process start to answer, alternating: `python -m index search` on each index, and a plain
    sentence-transformers script (load the model, embed, cosine over the stored section vectors) per model."""
    import statistics
    import subprocess

    from index import store

    commands = {}
    for index_dir in index_dirs:
        version = store.current_version(index_dir)
        model = store.read_manifest(version, index_dir)["model"]
        commands[f"index search, {index_dir.name}"] = [sys.executable, "-m", "index", "search", "--index",
                                                       str(index_dir), query]
        sections = str(version / format.VECTOR_FILES["sections"])
        commands[f"plain sentence-transformers, {model['name']}"] = [sys.executable, "-c", PLAIN, model["path"],
                                                                     sections, query]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for rep in range(reps):
        for name in (list(commands) if rep % 2 == 0 else list(commands)[::-1]):
            started = time.perf_counter()
            done = subprocess.run(commands[name], cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if done.returncode != 0:
                raise SystemExit(f"{name} failed: {done.stderr.strip()[-400:]}")
            times[name].append(time.perf_counter() - started)
    return "\n".join(["| command | median s | all runs s |", "|---|---|---|"] + [
        f"| {name} | {statistics.median(t):.2f} | {', '.join(f'{x:.2f}' for x in t)} |" for name, t in times.items()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.models", description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, type=Path, help="an index built with the model to measure")
    parser.add_argument("--work", type=Path, help="scratch folder for the candidate models")
    parser.add_argument("--variants", default=",".join(o.name for o in OPTIONS if o.name != "float"))
    parser.add_argument("--no-search", action="store_true", help="skip the whole-search comparison")
    parser.add_argument("--quality", choices=("bank", "large"),
                        help="instead: dense-leg and search hit@k on bench/queries.yaml (bank) or on the 61-question "
                             "bank's queries (large; index built from content/ + bench/banks/large/questions/)")
    parser.add_argument("--cold", type=Path, nargs="+", metavar="INDEX",
                        help="instead: one-shot CLI lookups on these indexes vs a plain sentence-transformers script")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--query-model", action="store_true",
                        help="instead: the cache's query model against the float export on every evaluation query "
                             "(cosine; first question and top-10 set of the whole search) on --index and --also")
    parser.add_argument("--also", type=Path, nargs="*", default=[], metavar="INDEX")
    parser.add_argument("--candidate", metavar="OPTION",
                        help="with --query-model: judge this option (e.g. int8-attention, w8b32) instead of the "
                             "served query model, built into --work from the index's float export")
    parser.add_argument("--speed", type=Path, nargs="+", metavar="INDEX",
                        help="instead: query embedding and whole-search latency, alternating, on --index and these, "
                             "each through its float export and its fused query graph")
    parser.add_argument("--sessions", action="store_true",
                        help="instead: the fused graph of --index on 2 threads against 1 thread (and the float "
                             "export on 1) and against onnxruntime's BASIC optimization level, alternating")
    parser.add_argument("--lengths", action="store_true",
                        help="instead: embedding time by query length in tokens, float export vs fused graph")
    args = parser.parse_args(argv)
    if args.query_model:
        candidate = None
        if args.candidate:  # a query-model option of OPTIONS, built into --work from the index's float export
            from index import store

            if args.work is None:
                parser.error("--candidate needs --work, the folder its model file is built into")
            model = store.read_manifest(store.current_version(args.index), args.index)["model"]
            folder = onnx_folder(model["onnx"])
            candidate = build_option(args.candidate, folder / "model.onnx", args.work, folder,
                                     int(model["max_seq_length"]), [])
        print(query_model_rankings([args.index, *args.also], candidate))
        return 0
    from index.embed import ONNX_FLOAT, ONNX_QUERY

    if args.speed:
        paths = [QueryPath(d, f) for d in (args.index, *args.speed) for f in (ONNX_FLOAT, ONNX_QUERY)]
        print(speed(paths))
        return 0
    if args.sessions:  # four sessions of one model at most: eight of mpnet's did not fit beside the other jobs here
        print(speed([QueryPath(args.index, ONNX_QUERY), QueryPath(args.index, ONNX_QUERY, threads=1),
                     QueryPath(args.index, ONNX_FLOAT, threads=1), QueryPath(args.index, ONNX_QUERY, level="basic")]))
        return 0
    if args.lengths:
        print(by_length(QueryPath(args.index, ONNX_FLOAT), QueryPath(args.index, ONNX_QUERY)))
        return 0
    if args.cold:
        print(cold([args.index, *args.cold], args.reps))
        return 0
    if args.quality:
        print(quality(args.index, args.quality == "large"))
        return 0
    if args.work is None:
        parser.error("--work is required to measure query-model options")
    rows = measure(args.index, args.work, [v for v in args.variants.split(",") if v], not args.no_search)
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
