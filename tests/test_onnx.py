"""The fast query path: the float ONNX export equals the sentence-transformers reference, the fused query graph made
from it (ingest/onnx_export.py) serves the queries and keeps issue 20's ranking bar, the files live in the model cache
(not the index folder), and the CLI never imports torch."""

import subprocess
import sys

import numpy as np
import pytest

from index import store
from index.embed import (ONNX_FLOAT, ONNX_QUERY, ONNX_TOKENIZER, OnnxEmbedder, SentenceTransformerEmbedder,
                         query_embedder, resolve_model, verified_onnx_folder)

from conftest import ROOT

pytestmark = pytest.mark.model

TEXTS = [
    "leakage",  # a single word
    "How do I detect feature leakage before it reaches production?",
    "précision vs rappel — naïve Bayes, café, Ünïcode, 机器学习, emoji 🚀, Ελληνικά",  # unicode
    " ".join(["gradient boosting fits each new tree to the residuals of the previous ones"] * 40),  # > 256 tokens
    "k-fold CV: 5 folds, stratified; AUC=0.93 (±0.02) & F1@0.5 → 0.71",
    "a",
]
HEAVY = ("torch", "transformers", "sentence_transformers")


@pytest.fixture(scope="module")
def embedders(real_index):
    version = store.current_version(real_index)
    model = store.read_manifest(version)["model"]
    assert model["onnx"], "the real index should name an ONNX export of its model"
    folder = verified_onnx_folder(model["onnx"], (ONNX_FLOAT, ONNX_TOKENIZER))
    onnx = OnnxEmbedder(folder, int(model["max_seq_length"]), model_file=ONNX_FLOAT)
    reference = SentenceTransformerEmbedder(resolve_model(model["source"]))
    return onnx, reference


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_query_vectors_equal_the_reference_one_by_one(embedders):
    onnx, reference = embedders
    for text in TEXTS:
        got, want = onnx.encode([text]), reference.encode([text])
        assert got.shape == want.shape == (1, reference.dimension)
        assert cosines(got, want)[0] > 0.9999, text[:40]
        assert abs(float(np.linalg.norm(got)) - 1.0) < 1e-5


def test_onnx_batch_of_mixed_lengths_equals_one_by_one_and_the_reference(embedders):
    # padding inside a batch must not change any row (the mask keeps pad tokens out of the mean)
    onnx, reference = embedders
    batch = onnx.encode(TEXTS, batch_size=len(TEXTS))
    single = np.vstack([onnx.encode([t]) for t in TEXTS])
    want = reference.encode(TEXTS)
    assert (cosines(batch, want) > 0.9999).all()
    assert (cosines(batch, single) > 0.9999).all()


def test_long_text_is_truncated_like_the_reference(embedders):
    # past max_seq_length tokens, more text must not change the vector (both sides truncate alike)
    onnx, reference = embedders
    long_text = TEXTS[3]
    longer = long_text + " completely different words about attention heads and softmax" * 20
    assert cosines(onnx.encode([long_text]), onnx.encode([longer]))[0] > 0.9999
    assert cosines(onnx.encode([longer]), reference.encode([longer]))[0] > 0.9999


def test_cli_search_imports_no_torch(real_index):
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "index", "search", "--json", "--index",
                           str(real_index), "how do I detect leakage"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"question_id": "feature-leakage"' in done.stdout  # it answered, through the query model
    modules = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "onnxruntime" in modules  # the trace is real: the ONNX path was taken
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], f"the CLI's search imported {heavy[:5]}"


# ---------------------------------------------------------------- all-mpnet-base-v2 through ingest's own export
QUERY_SAMPLE_EVERY = 4  # every 4th query of bench/queries.yaml (87 of 348); bench.models checks all of them


@pytest.fixture(scope="module")
def mpnet():
    """(float export, query model, reference embedder) for all-mpnet-base-v2, made in the model cache as ingest
    makes them."""
    from ingest.onnx_export import ensure_onnx

    source = resolve_model("all-mpnet-base-v2")
    entry = ensure_onnx(source)
    assert entry is not None, "all-mpnet-base-v2 is mean-pooled: it must get an ONNX query model"
    assert entry["query_model"] == ONNX_QUERY  # the fused float graph (an 8-bit one did not keep the rankings)
    reference = SentenceTransformerEmbedder(source)
    assert reference.max_seq_length == 384
    folder = verified_onnx_folder(entry, (ONNX_FLOAT, ONNX_TOKENIZER))
    return OnnxEmbedder(folder, 384, model_file=ONNX_FLOAT), query_embedder(entry, 384), reference


def test_mpnet_onnx_equals_the_reference_one_by_one_and_batched(mpnet):
    onnx, _, reference = mpnet
    want = reference.encode(TEXTS)
    assert want.shape == (len(TEXTS), 768)
    assert (cosines(np.vstack([onnx.encode([t]) for t in TEXTS]), want) > 0.9999).all()
    assert (cosines(onnx.encode(TEXTS, batch_size=len(TEXTS)), want) > 0.9999).all()


def test_mpnet_query_path_keeps_the_reference_top10_on_eval_queries(mpnet):
    import yaml

    from ingest.build import chunk
    from ingest.content import load_bank

    onnx, served, reference = mpnet
    sections = reference.encode([c.embed_text for q in load_bank(ROOT / "content") for c in chunk(q)])
    queries = [str(i["q"]) for i in yaml.safe_load((ROOT / "bench" / "queries.yaml").read_text(encoding="utf-8"))
               ["queries"]]
    sample = queries[::QUERY_SAMPLE_EVERY]
    exact = reference.encode(sample)
    for model in (onnx, served):  # the float export and the fused query graph
        fast = np.vstack([model.encode([q]) for q in sample])
        assert cosines(fast, exact).min() > 0.9999
        top = [[np.argsort(-row, kind="stable")[:10].tolist() for row in v @ sections.T] for v in (fast, exact)]
        differ = [q for q, a, b in zip(sample, *top) if a != b]
        assert differ == [], f"{len(differ)} of {len(sample)} queries rank their top 10 differently: {differ[:3]}"


def test_mpnet_query_graph_is_fused_and_equals_the_float_export_alone_and_batched(mpnet):
    import onnx as onnx_format

    from index.embed import onnx_cache_folder

    exact, served, _ = mpnet
    folder = onnx_cache_folder(resolve_model("all-mpnet-base-v2").weights_sha256)
    graph = onnx_format.load(str(folder / ONNX_QUERY), load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    # every layer's attention, relative position bias included, is one Attention node: no Softmax is left
    assert ops.count("Attention") == 12 and "Softmax" not in ops
    assert ops.count("SkipLayerNormalization") >= 12 and ops.count("BiasGelu") == 12
    assert (cosines(np.vstack([served.encode([t]) for t in TEXTS]), np.vstack([exact.encode([t]) for t in TEXTS]))
            > 0.99999).all()
    # padding inside a batch must not leak into any row through the fused attention's mask
    assert (cosines(served.encode(TEXTS, batch_size=len(TEXTS)), exact.encode(TEXTS, batch_size=len(TEXTS)))
            > 0.99999).all()


# ---------------------------------------------------------------- issue 20's bar for the served query graph
BAR_SAMPLE_EVERY = 4  # every 4th of the 1,010 evaluation queries (253); `python -m bench.models --query-model` runs all


@pytest.mark.parametrize("which", ["real_index", "mpnet_index"])
def test_the_served_query_graph_keeps_issue_20s_bar_on_the_evaluation_queries(which, request):
    from bench.models import eval_query_texts, query_model_agreement

    index_dir = request.getfixturevalue(which)
    queries = eval_query_texts()[::BAR_SAMPLE_EVERY]
    got = query_model_agreement(index_dir, queries)
    assert got["query_model"] == ONNX_QUERY  # the fused graph is what serves, so the bar is about it
    assert got["passes"], got
    # fusing kernels keeps float arithmetic: nothing moves at all, which is stricter than the bar
    assert got["cos_min"] > 0.99999 and got["first_same"] == got["top10_same"] == len(queries), got


@pytest.fixture
def older_cache(real_index, tmp_path):
    """A copy of the real index's model cache folder as older code left it: no query graph, a record without it."""
    import json
    import shutil

    from index.embed import ONNX_RECORD, model_cache_dir

    entry = store.read_manifest(store.current_version(real_index))["model"]["onnx"]
    folder = tmp_path / "cache" / "onnx" / entry["cache"]
    folder.mkdir(parents=True)
    for name in (ONNX_FLOAT, ONNX_TOKENIZER):
        shutil.copyfile(model_cache_dir() / "onnx" / entry["cache"] / name, folder / name)
    files = {name: entry["files"][name] for name in (ONNX_FLOAT, ONNX_TOKENIZER)}
    (folder / ONNX_RECORD).write_text(json.dumps({"files": files, "query_model": ONNX_FLOAT}))
    return tmp_path / "cache", folder, files


def test_a_cache_folder_of_older_code_gets_its_query_graph_without_a_new_export(older_cache, monkeypatch):
    from ingest import onnx_export

    cache, folder, files = older_cache

    def no_export(*args):
        raise AssertionError("the float export was made again: the upgrade needs only the folder's model.onnx")

    monkeypatch.setattr(onnx_export, "export_float", no_export)
    lines = []
    entry = onnx_export.ensure_onnx(resolve_model("all-MiniLM-L6-v2"), cache=cache, status=lines.append)
    assert entry["query_model"] == ONNX_QUERY and len(lines) == 1 and "fusing" in lines[0]
    assert {name: entry["files"][name] for name in files} == files  # the float export is untouched
    assert store.sha256_file(folder / ONNX_QUERY) == entry["files"][ONNX_QUERY]
    assert onnx_export.ensure_onnx(resolve_model("all-MiniLM-L6-v2"), cache=cache, status=lines.append) == entry
    assert len(lines) == 1  # done once: the next build finds the folder whole


def test_a_query_graph_that_does_not_reproduce_the_export_is_not_served(older_cache, monkeypatch):
    from ingest import onnx_export

    cache, folder, files = older_cache
    monkeypatch.setattr(onnx_export, "check_query_graph", lambda *args: 0.999)  # below QUERY_GRAPH_MIN_COSINE
    entry = onnx_export.ensure_onnx(resolve_model("all-MiniLM-L6-v2"), cache=cache)
    assert entry["query_model"] == ONNX_FLOAT and entry["files"] == files
    assert not (folder / ONNX_QUERY).exists() and not list(folder.glob(".tmp-*"))


def test_the_index_folder_holds_no_model_and_names_the_cache_files_by_hash(real_index):
    from index.embed import model_cache_dir

    model = store.read_manifest(store.current_version(real_index))["model"]
    entry = model["onnx"]
    assert sorted(p.name for p in real_index.rglob("*.onnx")) == []
    folder = model_cache_dir() / "onnx" / entry["cache"]
    assert entry["cache"] == model["weights_sha256"][:16]
    assert {name: store.sha256_file(folder / name) for name in entry["files"]} == entry["files"]
    assert entry["query_model"] in entry["files"]


def test_an_altered_query_model_in_the_cache_is_refused_with_the_fix(real_index, tmp_path, monkeypatch):
    import shutil

    from index.embed import model_cache_dir
    from index.errors import IndexDamaged
    from index.search import open_index
    from ingest.onnx_export import _recorded

    entry = store.read_manifest(store.current_version(real_index))["model"]["onnx"]
    copy = tmp_path / "cache" / "onnx" / entry["cache"]
    shutil.copytree(model_cache_dir() / "onnx" / entry["cache"], copy)
    monkeypatch.setenv("MLPREP_MODEL_CACHE", str(tmp_path / "cache"))
    assert _recorded(copy) == entry  # the copy is whole: ingest would reuse it
    with open(copy / entry["query_model"], "ab") as f:
        f.write(b"\0")
    assert _recorded(copy) is None  # ingest makes it again
    with pytest.raises(IndexDamaged, match="make index"):
        open_index(real_index, check_stale=False).search("leakage")
    (copy / entry["query_model"]).unlink()
    with pytest.raises(IndexDamaged, match="missing from the model cache"):
        open_index(real_index, check_stale=False).search("leakage")
