"""Export the embedding weights to ONNX once per model per machine, into the model cache, so that neither the
queries nor ingest need torch afterwards.

The files live in `index.embed.onnx_cache_folder(weights sha256)` (<model cache>/onnx/<sha256[:16]>/):

* model.onnx — the float export, checked against the weights it came from; ingest embeds the bank with it and the
  queries are embedded with it;
* tokenizer.json — the model's tokenizer;
* files.json — every file's SHA-256 and which file serves queries, written last.

An index's manifest names the folder by that key and each file by its SHA-256 (index/embed.py checks them before
loading); nothing is copied into index folders. sentence-transformers stays the reference: tests hold the float
export to it (cosine > 0.9999). An 8-bit query model (`quantize_weights`) was measured against issue 20's bar and not
kept: it moves the first question on 4–6 of 1,010 evaluation queries (docs/models.md), so the float export serves.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from index.atomic import fsync_tree, publish_dir
from index.embed import (ONNX_FLOAT, ONNX_RECORD, ONNX_TOKENIZER, ModelSource, onnx_cache_folder, pooling_is_mean,
                         quiet_transformers)
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
    entry = _recorded(folder)
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
        entry = _recorded(folder)  # another process made it while this one waited
        if entry is not None:
            return entry
        if status is not None:
            status(f"exporting {source.name} to ONNX into the model cache (once per model on this machine)")
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
        try:
            export_float(source.path, tmp / ONNX_FLOAT)
            shutil.copyfile(source.path / ONNX_TOKENIZER, tmp / ONNX_TOKENIZER)
            files = {name: sha256_file(tmp / name) for name in (ONNX_FLOAT, ONNX_TOKENIZER)}
            (tmp / ONNX_RECORD).write_text(json.dumps({"files": files, "query_model": ONNX_FLOAT}, indent=1) + "\n")
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


def _recorded(folder: Path) -> dict | None:
    """The folder's files.json as a manifest entry (the float export and the tokenizer, the export serving queries),
    when the record is readable and those files are there with their recorded SHA-256; else None."""
    try:
        record = json.loads((folder / ONNX_RECORD).read_text())
        files = {name: str(record["files"][name]) for name in (ONNX_FLOAT, ONNX_TOKENIZER)}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        if any(sha256_file(folder / name) != digest for name, digest in files.items()):
            return None
    except OSError:
        return None
    return {"cache": folder.name, "files": files, "query_model": ONNX_FLOAT}


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
