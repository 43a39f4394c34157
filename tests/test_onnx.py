"""The fast query path: ONNX embeddings equal the sentence-transformers reference; the CLI never imports torch."""

import subprocess
import sys

import numpy as np
import pytest

from index import store
from index.embed import OnnxEmbedder, SentenceTransformerEmbedder, resolve_model

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
    assert model["onnx"], "the real index should carry an ONNX export of its model"
    onnx = OnnxEmbedder(real_index / model["onnx"]["folder"], int(model["max_seq_length"]))
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


# ---------------------------------------------------------------- all-mpnet-base-v2: float export and 8-bit query model
QUERY_SAMPLE_EVERY = 4  # every 4th query of bench/queries.yaml (87 of 348); bench.models checks all of them


@pytest.fixture(scope="module")
def mpnet(tmp_path_factory):
    """(float ONNX embedder, served query embedder, its manifest entry, reference embedder) for all-mpnet-base-v2."""
    from ingest.onnx_export import FILES, ensure_onnx, export_float

    source = resolve_model("all-mpnet-base-v2")
    index_dir = tmp_path_factory.mktemp("mpnet")
    entry = ensure_onnx(index_dir, source)
    float_dir = tmp_path_factory.mktemp("mpnet-float")
    export_float(source.path, float_dir / FILES[0])
    (float_dir / "tokenizer.json").write_bytes((source.path / "tokenizer.json").read_bytes())
    max_len = SentenceTransformerEmbedder(source).max_seq_length
    return (OnnxEmbedder(float_dir, max_len), OnnxEmbedder(index_dir / entry["folder"], max_len), entry,
            SentenceTransformerEmbedder(source))


def test_mpnet_float_export_equals_the_reference(mpnet):
    float_onnx, _, _, reference = mpnet
    want = reference.encode(TEXTS)
    assert want.shape == (len(TEXTS), 768)
    assert (cosines(np.vstack([float_onnx.encode([t]) for t in TEXTS]), want) > 0.9999).all()
    assert (cosines(float_onnx.encode(TEXTS, batch_size=len(TEXTS)), want) > 0.9999).all()


def test_mpnet_is_served_by_the_8bit_query_model_that_keeps_the_float_top10(mpnet):
    import yaml

    from ingest.build import chunk
    from ingest.content import load_bank

    _, query_model, entry, reference = mpnet
    assert entry["folder"].endswith("-w8b32") and entry["weights"].startswith("8-bit")
    sections = reference.encode([c.embed_text for q in load_bank(ROOT / "content") for c in chunk(q)])
    queries = [str(i["q"]) for i in yaml.safe_load((ROOT / "bench" / "queries.yaml").read_text(encoding="utf-8"))
               ["queries"]]
    sample = queries[::QUERY_SAMPLE_EVERY]
    fast, exact = np.vstack([query_model.encode([q]) for q in sample]), reference.encode(sample)
    cos = cosines(fast, exact)
    assert cos.min() > 0.999 and cos.mean() > 0.9995, (float(cos.min()), float(cos.mean()))
    top = [np.argsort(-(sections @ v), kind="stable")[:10].tolist() for v in (fast, exact)]
    differ = [q for q, a, b in zip(sample, *top) if a != b]
    assert differ == [], f"{len(differ)} of {len(sample)} queries rank their top 10 differently: {differ[:3]}"
