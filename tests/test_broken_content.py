"""Broken content: every kind in tests/broken/ is rejected with its file, its line and a fix; ingest exits
non-zero and the served index stays byte-for-byte what it was, and `python -m index search` keeps answering from
it (stale). Markup in content is accepted and kept as text.

Two kinds are made here rather than committed: a file over index.store.MAX_CONTENT_BYTES, and a symlink to a
file outside the content folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURE_CONTENT, ROOT, FakeEmbedder
from index import open_index, store
from ingest.__main__ import main as ingest_main
from ingest.build import build
from test_stale_cli import FAKE_CLI, assert_stale_answer

BROKEN = Path(__file__).resolve().parent / "broken"

# (file or folder under tests/broken, line (0: the whole file), what is wrong, the fix it names, problems reported)
CASES = [
    ("bad-yaml.md", 2, "front matter is not valid YAML", "quote values that contain ':'", 1),
    ("missing-title.md", 1, "missing title", 'add a line like title: "', 1),
    ("missing-topics.md", 1, "missing topics", "add a line like topics: [", 1),
    ("unknown-field.md", 4, "unknown front matter field 'tags'", "expected title, topics, aliases", 1),
    ("no-front-matter.md", 1, "must start with a front matter block", "a line '---'", 1),
    ("unclosed-front-matter.md", 1, "is never closed", "add a line '---' after it", 1),
    ("missing-section.md", 20, 'missing section "Example"', 'add "## Example" followed by its text', 1),
    ("unknown-section.md", 14, 'unknown section "Examples"', 'did you mean "Example"?', 2),
    ("duplicate-section.md", 14, 'duplicate section "Explanation" (first on line 10)', "merge the two", 1),
    ("empty-section.md", 18, 'section "Common mistakes" is empty', "write its text under the heading", 1),
    ("title-as-heading.md", 6, "the title belongs in the front matter", "remove this line", 1),
    ("Bad_File Name.md", 0, "the file name is the question's id", "rename it to bad-file-name.md", 1),
    ("non-utf8.md", 8, "is not valid UTF-8 (byte 0xef)", "save the file as UTF-8", 1),
    ("binary.md", 3, "contains NUL bytes", "remove it from the content folder", 1),
    ("empty.md", 0, "is empty", "start from the template in docs/content.md", 1),
    ("duplicate-id", 0, "duplicate question id 'same-question'", "rename one of them", 1),
    ("oversize.md", 0, f"over the {store.MAX_CONTENT_BYTES // 1024} KiB limit", "split it or shorten it", 1),
    ("outside-link.md", 0, "outside the content folder", "copy the file in instead", 1),
]
GENERATED = {"oversize.md", "outside-link.md"}


def add_broken(content: Path, name: str, outside: Path) -> Path:
    """Put one broken kind into a content folder; returns the file that the error must name."""
    if name == "oversize.md":
        path = content / name
        valid = (FIXTURE_CONTENT / "k-means.md").read_text(encoding="utf-8")
        filler = "Padding sentence for the size limit test. " * (store.MAX_CONTENT_BYTES // 40)
        path.write_text(valid.replace("## Example\n", "## Example\n\n" + filler + "\n"), encoding="utf-8")
        assert path.stat().st_size > store.MAX_CONTENT_BYTES
        return path
    if name == "outside-link.md":
        outside.mkdir(exist_ok=True)
        target = outside / "secret.md"
        shutil.copy(FIXTURE_CONTENT / "k-means.md", target)
        (content / name).symlink_to(target)
        return content / name
    source = BROKEN / name
    if source.is_dir():
        shutil.copytree(source, content / name)
        return content / name / "b" / "same-question.md"
    shutil.copy(source, content / name)
    return content / name


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file and folder under the index folder, with its bytes."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def served(tmp_path):
    """(content folder, index folder, snapshot): a valid bank indexed, then left for a broken file to join."""
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    index = tmp_path / "index"
    build(content, index, embedder=FakeEmbedder())
    return content, index, snapshot(index)


def test_the_corpus_holds_at_least_twelve_kinds():
    committed = {p.name for p in BROKEN.iterdir() if p.name != "accepted"}
    assert committed == {name for name, *_ in CASES} - GENERATED
    assert len(CASES) >= 12


@pytest.mark.parametrize("name,line,what,fix,count", CASES, ids=[c[0] for c in CASES])
def test_each_kind_is_rejected_with_file_line_and_fix(served, tmp_path, capsys, name, line, what, fix, count):
    content, index, before = served
    culprit = add_broken(content, name, tmp_path / "outside")
    code = ingest_main(["--content", str(content), "--index", str(index), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    where = re.escape(culprit.name) + (f":{line}: " if line else ": ")
    pattern = where + ".*" + re.escape(what) + ".*" + re.escape(fix)
    assert re.search(pattern, err), f"expected {pattern!r} in:\n{err}"
    assert f"\n{count} problem{'s' if count != 1 else ''} in the content; nothing was written" in err
    assert "Traceback" not in err
    assert snapshot(index) == before, "a rejected ingest changed the served index"
    idx = open_index(index, check_stale=False, embedder=FakeEmbedder())
    assert idx.search("lasso ridge penalty", k=1).hits[0].question_id == "regularization"


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_search_keeps_answering_from_the_last_good_index_with_each_kind(served, tmp_path, name):
    content, index, before = served
    culprit = add_broken(content, name, tmp_path / "outside")
    assert_stale_answer(index, [culprit.relative_to(content).as_posix()])
    assert snapshot(index) == before


def test_the_whole_corpus_at_once_through_python_m_ingest(served, tmp_path):
    """The real command, every kind in one folder: exit 1, each file named, the index untouched."""
    content, index, before = served
    culprits = [add_broken(content, name, tmp_path / "outside") for name, *_ in CASES]
    proc = subprocess.run([sys.executable, "-m", "ingest", "--content", str(content), "--index", str(index),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 1
    assert proc.stdout == ""
    for culprit in culprits:
        assert culprit.name in proc.stderr
    total = sum(count for *_, count in CASES)
    assert f"\n{total} problems in the content; nothing was written, the current index is unchanged" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(index) == before
    # and the command line still answers from the index it left alone
    search = subprocess.run([sys.executable, "-c", FAKE_CLI, str(ROOT), "search", "--json", "--index", str(index),
                             "lasso ridge penalty"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert search.returncode == 0, search.stderr
    answer = json.loads(search.stdout)
    assert answer["stale"] is True and answer["results"][0]["question_id"] == "regularization"
    assert search.stderr.startswith("warning: ") and f"{len(CASES) + 1} files changed" in search.stderr
    assert len(search.stderr.strip().splitlines()) == 1


def test_html_and_script_in_content_are_accepted_and_come_back_as_text(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    source = BROKEN / "accepted" / "html-and-script.md"
    shutil.copy(source, content / source.name)
    index = tmp_path / "index"
    build(content, index, embedder=FakeEmbedder())
    idx = open_index(index, content_dir=content, embedder=FakeEmbedder())
    q = idx.question("html-and-script")
    assert q.title == "What does <b>bold</b> markup in a question do?"
    assert q.section("short").text == ("Markup such as <b>bold</b> and <script>alert('xss')</script> is shown as text, "
                                       "never run.")
    hit = next(h for h in idx.search("markup script shown as text", k=5).hits if h.question_id == q.id)
    assert "<script>alert('xss')</script>" in hit.text or "<img src=x onerror=alert(1)>" in hit.text
    assert hit.question == q.title
