"""Export the embedding weights to ONNX once, so queries can skip importing torch.

The export is stored in the index folder under models/<weights sha256[:16]>/ and reused by every
later build with the same weights. sentence-transformers stays the reference: a test holds the
ONNX embeddings to the reference ones (cosine > 0.9999).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from index.atomic import fsync_tree, publish_dir
from index.embed import ModelSource, pooling_is_mean
from index.store import sha256_file

FILES = ("model.onnx", "tokenizer.json")


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
            _export(source.path, tmp / "model.onnx")
            shutil.copyfile(source.path / "tokenizer.json", tmp / "tokenizer.json")
            fsync_tree(tmp)
            publish_dir(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"folder": rel, "files": {f: sha256_file(folder / f) for f in FILES}}


def _export(model_dir: Path, target: Path) -> None:
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
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder(model), tuple(sample[n] for n in names), str(target), dynamo=False,
                          input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=17)
