"""Export the embedding weights to ONNX once per model per machine, into the model cache, so that neither the
queries nor ingest need torch afterwards.

The files live in `index.embed.onnx_cache_folder(weights sha256)` (<model cache>/onnx/<sha256[:16]>/):

* model.onnx — the float export, checked against the weights it came from; ingest embeds the bank with it;
* query.onnx — the same float model with each layer's operators fused into onnxruntime's kernels
  (`fuse_query_graph`: attention, Gelu, skip + LayerNorm), checked against model.onnx (cosine >= 0.99999 on every
  check text, alone and batched); it embeds the queries, 0.85-1.0x model.onnx's time (docs/models.md). A model
  whose graph the fusions do not reproduce has none, and model.onnx embeds its queries;
* tokenizer.json — the model's tokenizer;
* files.json — every file's SHA-256, which file serves queries and the QUERY_GRAPH version, written last. A folder
  made by older code (no query.onnx) gets its query graph from its own model.onnx on the next build, without torch.

An index's manifest names the folder by that key and each file by its SHA-256 (index/embed.py checks them before
loading); nothing is copied into index folders. sentence-transformers stays the reference: tests hold the float
export to it (cosine > 0.9999) and the query graph to issue 20's ranking bar. An 8-bit query model
(`quantize_weights`) was measured against that bar and not kept: it moves the first question on 4–6 of 1,010
evaluation queries (docs/models.md).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from index.atomic import fsync_tree, publish_dir, write_text
from index.embed import (ONNX_FLOAT, ONNX_QUERY, ONNX_RECORD, ONNX_TOKENIZER, ModelSource, configured_max_seq_length,
                         onnx_cache_folder, pooling_is_mean, quiet_transformers)
from index.errors import ModelError
from index.store import sha256_file

CHECK_TEXT = "One text of a length the export was not traced with: gradient boosting fits each tree to residuals."
EXPORT_MIN_COSINE = 0.9999


def ensure_onnx(source: ModelSource, cache: Path | None = None, status=None) -> dict | None:
    """The model's ONNX files in the model cache (made the first time: this needs torch, once per model per machine)
    as the manifest's model.onnx entry; None if the model cannot be served that way (its pooling is not mean
    pooling, or it has no tokenizer.json).

    Args:
        source: the resolved model.
        cache: the model cache root (default `index.embed.model_cache_dir()`).
        status: called with one line of text before the (slow) export starts.
    Raises:
        ModelError when the cache cannot be written or the export does not reproduce the model.
    """
    if not pooling_is_mean(source.path) or not (source.path / ONNX_TOKENIZER).is_file():
        return None
    folder = onnx_cache_folder(source.weights_sha256, cache)
    entry = _recorded(folder, current=True)
    if entry is not None:
        return entry
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = open(folder.parent / f".lock-{folder.name}", "a+")
    except OSError as exc:
        raise ModelError(f"cannot write the model cache {folder.parent} ({exc.strerror}): set MLPREP_MODEL_CACHE to "
                         f"a writable folder") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entry = _recorded(folder, current=True)  # another process made it while this one waited
        if entry is not None:
            return entry
        if _recorded(folder) is not None:  # made by older code: only the query graph is missing (no torch needed)
            if status is not None:
                status(f"fusing {source.name}'s query model in the model cache (once per model on this machine)")
            try:
                _add_query_graph(folder, source)
            except OSError as exc:
                raise ModelError(f"cannot write the model cache {folder} ({exc}): free space there or set "
                                 f"MLPREP_MODEL_CACHE to another folder") from None
        else:
            if status is not None:
                status(f"exporting {source.name} to ONNX into the model cache (once per model on this machine)")
            tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
            try:
                export_float(source.path, tmp / ONNX_FLOAT)
                shutil.copyfile(source.path / ONNX_TOKENIZER, tmp / ONNX_TOKENIZER)
                _add_query_graph(tmp, source)
                fsync_tree(tmp)
                publish_dir(tmp, folder)
            except OSError as exc:
                raise ModelError(f"cannot write the model cache {folder.parent} ({exc}): free space there or set "
                                 f"MLPREP_MODEL_CACHE to another folder") from None
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    entry = _recorded(folder)
    if entry is None:
        raise ModelError(f"the ONNX export in {folder} was written but does not read back: delete {folder} and run "
                         f"`make index` again")
    return entry


def _recorded(folder: Path, current: bool = False) -> dict | None:
    """The folder's files.json as a manifest entry (the float export, the tokenizer and the query graph when there is
    one, and which file serves queries), when the record is readable and its files are there with their recorded
    SHA-256; else None. `current`: also None when the record was made before this QUERY_GRAPH version."""
    try:
        record = json.loads((folder / ONNX_RECORD).read_text())
        if current and record.get("query_graph") != QUERY_GRAPH:
            return None
        # a record of older code may name a query model no longer served (an 8-bit one): the float export stands in
        query_model = ONNX_QUERY if record.get("query_model") == ONNX_QUERY else ONNX_FLOAT
        names = (ONNX_FLOAT, ONNX_TOKENIZER) + ((ONNX_QUERY,) if query_model == ONNX_QUERY else ())
        files = {name: str(record["files"][name]) for name in names}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        if any(sha256_file(folder / name) != digest for name, digest in files.items()):
            return None
    except OSError:
        return None
    return {"cache": folder.name, "files": files, "query_model": query_model}


def _add_query_graph(folder: Path, source: ModelSource) -> None:
    """Make the query graph (`fuse_query_graph`) from the folder's float export and record the folder's files:
    query.onnx serves queries when it reproduces the float export (`check_query_graph`), else model.onnx does.
    The record is written last, each file by one rename, so a reader sees the old folder or the new one."""
    config = json.loads((source.path / "config.json").read_text())
    tmp = folder / f".tmp-{ONNX_QUERY}"
    query_model = ONNX_FLOAT
    try:
        fuse_query_graph(folder / ONNX_FLOAT, tmp, int(config["num_attention_heads"]), int(config["hidden_size"]))
        if check_query_graph(folder, tmp.name, configured_max_seq_length(source.path)) >= QUERY_GRAPH_MIN_COSINE:
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())  # on disk before the record names it
            os.replace(tmp, folder / ONNX_QUERY)
            query_model = ONNX_QUERY
    except OSError:
        raise
    except Exception:  # noqa: BLE001 - any graph the fusions or onnxruntime cannot handle: the float export serves
        query_model = ONNX_FLOAT
    finally:
        tmp.unlink(missing_ok=True)
    names = (ONNX_FLOAT, ONNX_TOKENIZER) + ((ONNX_QUERY,) if query_model == ONNX_QUERY else ())
    record = {"files": {name: sha256_file(folder / name) for name in names}, "query_model": query_model,
              "query_graph": QUERY_GRAPH}
    write_text(folder / ONNX_RECORD, json.dumps(record, indent=1) + "\n")


# ------------------------------------------------------------------ the query graph: the same float model, fused
QUERY_GRAPH = 1  # files.json "query_graph": the fusion that made query.onnx; a folder made before it is completed
QUERY_GRAPH_MIN_COSINE = 0.99999  # on every check text, alone and in a padded batch, against the float export
QUERY_GRAPH_CHECK = (
    "leakage", "a", "How do I detect feature leakage before it reaches production?",
    "précision vs rappel — naïve Bayes, café, Ünïcode, 机器学习, emoji 🚀, Ελληνικά",
    " ".join(["gradient boosting fits each new tree to the residuals of the previous ones"] * 40),
)


def fuse_query_graph(src: Path, dst: Path, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Write `src` (a float export) to `dst` with each layer's operators fused into onnxruntime's own kernels, in
    float: every attention block into one `Attention` node (one GEMM for query, key and value, the softmax and the
    weighted sum in one kernel), and onnxruntime's transformer optimizer's Gelu, SkipLayerNormalization and
    EmbedLayerNormalization fusions. Returns the fused operators counted by kind.

    The optimizer fuses BERT's attention but not MPNet's, whose scores get a relative position bias added before
    the mask; `_fuse_biased_attention` matches that block and passes the bias to `Attention` as its attention_bias
    input, which onnxruntime adds at the same place.
    """
    import logging

    import onnx
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    model = onnx.load(str(src))
    _fuse_biased_attention(model, num_heads)
    # without symbolic shape inference, which copies the whole model several times (mpnet's fusion peaked at 4.2 GB
    # with it, 1.5 GB without) and finds the same fusions here; its one notice that it is off is not for the user
    options = FusionOptions("bert")
    options.enable_shape_inference = False
    logging.getLogger("fusion_skiplayernorm").setLevel(logging.ERROR)
    fused = optimizer.optimize_model(model, model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                                     optimization_options=options, opt_level=0)
    onnx.save(fused.model, str(dst))
    return {k: v for k, v in fused.get_fused_operator_statistics().items() if v}


def _fuse_biased_attention(model, num_heads: int) -> int:
    """Replace, in place, every attention block of the form softmax(QK^T / d + position_bias + mask) V (MPNet's) by
    one com.microsoft `Attention` node fed the position bias; returns how many were replaced."""
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.transformers.onnx_model import OnnxModel

    graph = OnnxModel(model)
    weights = {t.name: t for t in model.graph.initializer}
    producers, consumers = graph.output_name_to_node(), graph.input_name_to_nodes()
    mask = "attention_mask_int32"
    added, dropped = [], []
    for softmax in [n for n in model.graph.node if n.op_type == "Softmax"]:
        scores = graph.match_parent_path(softmax, ["Add", "Add", "Div", "MatMul"], [0, 0, 0, 0], producers)
        after = consumers.get(softmax.output[0], [])
        if scores is None or len(after) != 1 or after[0].op_type != "MatMul":
            continue
        mask_add, bias_add, div, qk = scores
        weighted = after[0]
        paths = [graph.match_parent_path(qk, ["Transpose", "Reshape", "Add", "MatMul"], [0, 0, 0, None], producers),
                 graph.match_parent_path(qk, ["Transpose", "Reshape", "Add", "MatMul"], [1, 0, 0, None], producers),
                 graph.match_parent_path(weighted, ["Transpose", "Reshape", "Add", "MatMul"], [1, 0, 0, None],
                                         producers)]
        tail = consumers.get(weighted.output[0], [])
        if len(tail) == 1:  # the heads' outputs transposed back, then reshaped (its Shape nodes go with it)
            tail += [n for n in consumers.get(tail[0].output[0], []) if n.op_type == "Reshape"]
        if None in paths or [n.op_type for n in tail] != ["Transpose", "Reshape"]:
            continue
        perms = [helper.get_attribute_value(p[0].attribute[0]) for p in paths] + [
            helper.get_attribute_value(tail[0].attribute[0])]
        divisor = weights.get(div.input[1]) or _constant(producers.get(div.input[1]))
        matmuls = [p[3] for p in paths]
        hidden = matmuls[0].input[0]
        if (perms != [[0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3], [0, 2, 1, 3]] or divisor is None
                or any(m.input[0] != hidden or m.input[1] not in weights for m in matmuls)):
            continue
        biases = []
        for path in paths:
            other = [i for i in path[2].input if i != path[3].output[0]]
            if len(other) != 1 or other[0] not in weights:
                break
            biases.append(numpy_helper.to_array(weights[other[0]]))
        position_bias = [i for i in bias_add.input if i != div.output[0]]
        if len(biases) != 3 or len(position_bias) != 1:
            continue
        stem = softmax.name.rsplit("/", 1)[0] + "/fused_attention"
        model.graph.initializer.extend([
            numpy_helper.from_array(np.concatenate([numpy_helper.to_array(weights[m.input[1]]) for m in matmuls],
                                                   axis=1), stem + "_qkv_weight"),
            numpy_helper.from_array(np.concatenate(biases), stem + "_qkv_bias")])
        added.append(helper.make_node(
            "Attention", [hidden, stem + "_qkv_weight", stem + "_qkv_bias", mask, "", position_bias[0]],
            [tail[1].output[0]], name=stem, domain="com.microsoft", num_heads=num_heads,
            scale=float(1.0 / float(np.asarray(numpy_helper.to_array(divisor)).reshape(-1)[0]))))
        dropped += [softmax, mask_add, bias_add, div, qk, weighted, *tail] + [n for p in paths for n in p]
    if not added:
        return 0
    added.insert(0, helper.make_node("Cast", ["attention_mask"], [mask], to=TensorProto.INT32, name=mask + "_cast"))
    graph.remove_nodes(dropped)
    graph.add_nodes(added)
    graph.prune_graph()
    graph.topological_sort()
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return len(added) - 1


def _constant(node):
    """The tensor of a Constant node, else None."""
    if node is None or node.op_type != "Constant":
        return None
    return next((a.t for a in node.attribute if a.name == "value"), None)


def check_query_graph(folder: Path, query_file: str, max_seq_length: int) -> float:
    """The lowest cosine between the float export's vectors and `query_file`'s over QUERY_GRAPH_CHECK, each text
    alone and all of them in one padded batch."""
    from index.embed import OnnxEmbedder

    texts = list(QUERY_GRAPH_CHECK)
    vectors = []
    for name in (ONNX_FLOAT, query_file):  # one session at a time: each holds the whole model
        model = OnnxEmbedder(folder, max_seq_length, model_file=name)
        vectors.append((model.encode(texts, batch_size=len(texts)), np.vstack([model.encode([t]) for t in texts])))
        del model
    (exact_batch, exact_alone), (fused_batch, fused_alone) = vectors
    return min(float(np.min(np.sum(exact_batch * fused_batch, axis=1))),
               float(np.min(np.sum(exact_alone * fused_alone, axis=1))))


def quantize_weights(src: Path, dst: Path, block_size: int = 32, bits: int = 8, only=None) -> int:
    """A query-model candidate measured by bench.models (not served): write `src` with every constant-weight MatMul
    (or those whose node name `only(name)` accepts) replaced by MatMulNBits: `bits`-bit weights (8 or 4), one float
    scale per `block_size` values of a column, int8 compute (accuracy_level 4). Returns how many were replaced.

    Symmetric blocks (no zero points: the operator's default 2**(bits-1) applies to the stored unsigned values).
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
        if w is None or len(w.dims) != 2 or w.dims[0] % block_size or (only is not None and not only(node.name)):
            nodes.append(node)
            continue
        k, n = (int(d) for d in w.dims)
        blocks = numpy_helper.to_array(w).astype(np.float32).T.reshape(n, k // block_size, block_size)
        top = 2 ** (bits - 1) - 1
        scales = np.abs(blocks).max(axis=2) / top
        scales[scales == 0] = 1.0
        q = (np.clip(np.rint(blocks / scales[..., None]), -top, top).astype(np.int16) + top + 1).astype(np.uint8)
        if bits == 4:  # two values a byte, the first in the low nibble
            q = q[..., 0::2] | (q[..., 1::2] << 4)
        base = f"{w.name}_w{bits}b{block_size}_{replaced}"
        graph.initializer.extend([numpy_helper.from_array(q, base),
                                  numpy_helper.from_array(scales.reshape(-1).astype(np.float32), base + "_scales")])
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], base, base + "_scales"], list(node.output),
                                      name=f"{node.name}_w{bits}", domain="com.microsoft", K=k, N=n, bits=bits,
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


def export_float(model_dir: Path, target: Path) -> None:
    """Export the transformer of a sentence-transformers folder to ONNX (float32), checked against its own output."""
    import warnings

    import torch
    from transformers import AutoModel, AutoTokenizer

    quiet_transformers()

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
