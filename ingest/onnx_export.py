"""Export the embedding weights to ONNX once, so queries can skip importing torch.

The export is stored in the index folder under models/<weights sha256[:16]>/ and reused by every
later build with the same weights. sentence-transformers stays the reference: tests hold the ONNX
embeddings to the reference ones (cosine > 0.9999, and identical top-10 rankings on evaluation queries).
Faster, quantized query models were measured and not kept: none keeps those rankings (docs/models.md).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import numpy as np

from index.atomic import fsync_tree, publish_dir
from index.embed import ModelSource, pooling_is_mean
from index.errors import ModelError
from index.store import sha256_file

FILES = ("model.onnx", "tokenizer.json")
CHECK_TEXT = "One text of a length the export was not traced with: gradient boosting fits each tree to residuals."
EXPORT_MIN_COSINE = 0.9999


def ensure_onnx(index_dir: Path, source: ModelSource) -> dict | None:
    """The ONNX export for these weights (made if missing) as a manifest entry, or None if the model
    cannot be served that way (its pooling is not mean pooling, or it has no tokenizer.json)."""
    if not pooling_is_mean(source.path) or not (source.path / "tokenizer.json").is_file():
        return None
    rel = f"models/{source.weights_sha256[:16]}"
    folder = index_dir / rel
    if not all((folder / f).is_file() for f in FILES):
        tmp = index_dir / "models" / f".tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            export_float(source.path, tmp / "model.onnx")
            shutil.copyfile(source.path / "tokenizer.json", tmp / "tokenizer.json")
            fsync_tree(tmp)
            publish_dir(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"folder": rel, "files": {f: sha256_file(folder / f) for f in FILES}}


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
