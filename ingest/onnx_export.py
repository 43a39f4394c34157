"""Export the embedding weights to ONNX once, so queries can skip importing torch.

The export is stored in the index folder under models/<weights sha256[:16]>/ (models/<sha>-w8b32/ when a
heavy model is served by its 8-bit copy) and reused by every later build with the same weights.
sentence-transformers stays the reference: tests hold the float export to it (cosine > 0.9999) and the
8-bit copy to identical top-10 rankings on evaluation queries (tests/test_onnx.py).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from index.atomic import fsync_tree, publish_dir
from index.embed import WEIGHT_FILES, ModelSource, pooling_is_mean
from index.errors import ModelError
from index.store import sha256_file

FILES = ("model.onnx", "tokenizer.json")
CHECK_TEXT = "One text of a length the export was not traced with: gradient boosting fits each tree to residuals."
EXPORT_MIN_COSINE = 0.9999
# The 8-bit query model (docs/models.md has the measurements behind each figure): weights larger than this are
# served quantized, with one scale per BLOCK_SIZE weights, if its vectors stay this close to the float export's.
QUANTIZE_ABOVE = 200 * 2**20
BLOCK_SIZE = 32
QUERY_MIN_COSINE = 0.999
CHECK_TEXTS = (CHECK_TEXT, "leakage", "how do I detect feature leakage", "RF vs GBM", "precision vs recall tradeoff",
               "story about a model that failed in production", "why does batch norm help deep networks train")


def ensure_onnx(index_dir: Path, source: ModelSource) -> dict | None:
    """The ONNX query model for these weights (made if missing) as a manifest entry, or None if the model
    cannot be served that way (its pooling is not mean pooling, or it has no tokenizer.json).

    Weights above QUANTIZE_ABOVE bytes (all-mpnet-base-v2; not all-MiniLM-L6-v2) are served by an 8-bit
    copy (`quantize_weights`), kept only when it agrees with the float export on CHECK_TEXTS; otherwise, and
    for smaller models, the float export itself is served.
    """
    if not pooling_is_mean(source.path) or not (source.path / "tokenizer.json").is_file():
        return None
    float_rel = f"models/{source.weights_sha256[:16]}"
    quant_rel = f"{float_rel}-w8b{BLOCK_SIZE}"
    heavy = _weights_size(source.path) > QUANTIZE_ABOVE
    done = [rel for rel in ((quant_rel, float_rel) if heavy else (float_rel,))
            if all((index_dir / rel / f).is_file() for f in FILES)]
    rel = done[0] if done else None
    if rel is None:
        tmp = index_dir / "models" / f".tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            rel = float_rel
            export_float(source.path, tmp / "model.onnx")
            shutil.copyfile(source.path / "tokenizer.json", tmp / "tokenizer.json")
            if heavy:
                quantize_weights(tmp / "model.onnx", tmp / "w8.onnx")
                if _agreement(tmp / "model.onnx", tmp / "w8.onnx", tmp) >= QUERY_MIN_COSINE:
                    os.replace(tmp / "w8.onnx", tmp / "model.onnx")
                    rel = quant_rel
                else:
                    (tmp / "w8.onnx").unlink()
            fsync_tree(tmp)
            publish_dir(tmp, index_dir / rel)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    folder = index_dir / rel
    return {"folder": rel, "files": {f: sha256_file(folder / f) for f in FILES},
            "weights": f"8-bit, blocks of {BLOCK_SIZE}" if rel == quant_rel else "float32"}


def _weights_size(folder: Path) -> int:
    return next(((folder / f).stat().st_size for f in WEIGHT_FILES if (folder / f).is_file()), 0)


def _agreement(reference: Path, candidate: Path, tokenizer_folder: Path) -> float:
    """The lowest cosine between two ONNX exports' sentence vectors over CHECK_TEXTS (one text per run)."""
    from index.embed import OnnxEmbedder

    a, b = (OnnxEmbedder(tokenizer_folder, 128, model_file=str(m)) for m in (reference, candidate))
    return float(min(np.dot(a.encode([t])[0], b.encode([t])[0]) for t in CHECK_TEXTS))


def export_float(model_dir: Path, target: Path) -> None:
    """Export the transformer of a sentence-transformers folder to ONNX (float32), checked against its own output."""
    import warnings

    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    sample = tokenizer(["a sample sentence", "another, longer sample sentence for tracing"], padding=True,
                       return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class Encoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs))).last_hidden_state

    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "tokens"}
    # the export is checked against the weights it came from, on a batch shape it was not traced with, so a
    # graph with a shape frozen at trace time or an unsupported op is refused here rather than served (the
    # reference output is taken before the export: taken after it, it differs as if dropout were on)
    check = tokenizer([CHECK_TEXT], return_tensors="pt")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        want = _mean_pooled(model(**{n: check[n] for n in names}).last_hidden_state.numpy(),
                            check["attention_mask"].numpy())
        torch.onnx.export(Encoder(model), tuple(sample[n] for n in names), str(target), dynamo=False,
                          input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=17)
    import onnxruntime as ort

    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    got = _mean_pooled(session.run(None, {n: check[n].numpy() for n in names})[0], check["attention_mask"].numpy())
    cosine = float(np.sum(got * want))
    if not cosine > EXPORT_MIN_COSINE:
        raise ModelError(f"the ONNX export of {model_dir} does not reproduce the model (cosine {cosine:.6f} to its "
                         f"own output, expected > {EXPORT_MIN_COSINE}), so its queries would not match the index: "
                         f"build with another model (--model all-MiniLM-L6-v2 or all-mpnet-base-v2)")


def _mean_pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def quantize_weights(src: Path, dst: Path, block_size: int = BLOCK_SIZE) -> int:
    """Write `src` with every constant-weight MatMul replaced by MatMulNBits: 8-bit weights, one float scale per
    `block_size` values of a column, int8 compute (accuracy_level 4). Returns how many MatMuls were replaced.

    Symmetric blocks (no zero points: the operator's default 128 applies to the stored unsigned bytes).
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    nodes, replaced, dropped = [], 0, set()
    for node in graph.node:
        w = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is None or len(w.dims) != 2 or w.dims[0] % block_size:
            nodes.append(node)
            continue
        k, n = (int(d) for d in w.dims)
        blocks = numpy_helper.to_array(w).astype(np.float32).T.reshape(n, k // block_size, block_size)
        scales = np.abs(blocks).max(axis=2) / 127.0
        scales[scales == 0] = 1.0
        q = np.clip(np.rint(blocks / scales[..., None]), -127, 127).astype(np.int16) + 128
        base = f"{w.name}_w8b{block_size}_{replaced}"
        graph.initializer.extend([numpy_helper.from_array(q.astype(np.uint8), base),
                                  numpy_helper.from_array(scales.reshape(-1).astype(np.float32), base + "_scales")])
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], base, base + "_scales"], list(node.output),
                                      name=f"{node.name}_w8", domain="com.microsoft", K=k, N=n, bits=8,
                                      block_size=block_size, accuracy_level=4))
        replaced += 1
        uses[w.name] -= 1
        if uses[w.name] == 0:
            dropped.add(w.name)
    kept = [t for t in graph.initializer if t.name not in dropped]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(dst))
    return replaced
