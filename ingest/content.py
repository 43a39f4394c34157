"""Read and validate the question bank: one Markdown file per question.

    ---
    title: "What is feature leakage, and how do you detect and prevent it?"
    topics: [evaluation, mlops]
    aliases: [data leakage, target leakage]
    ---

    ## Short answer
    …
    ## Explanation
    …
    ## Example
    …
    ## Common mistakes
    …
    ## Production story
    …

Every problem in every file is collected (file, line, what to do) before anything is built.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from index.errors import ContentError, ContentErrors
from index.store import MAX_CONTENT_BYTES, content_files

# (key, heading) in the order they appear in a file; the key is the section's id in chunk ids.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("short", "Short answer"),
    ("explanation", "Explanation"),
    ("example", "Example"),
    ("mistakes", "Common mistakes"),
    ("story", "Production story"),
)
HEADING_TO_KEY = {heading: key for key, heading in SECTIONS}
FIELDS = {"title": "required text", "topics": "required list of tags", "aliases": "optional list of other names"}
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_TITLE_CHARS = 300


@dataclass(frozen=True)
class ParsedSection:
    key: str
    heading: str
    text: str
    line: int


@dataclass(frozen=True)
class ParsedQuestion:
    id: str
    title: str
    topics: tuple[str, ...]
    aliases: tuple[str, ...]
    path: str  # relative to the content folder
    sections: tuple[ParsedSection, ...]  # in SECTIONS order
    sha256: str


def slugify(name: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", name.lower())).strip("-") or "question"


def _string_list(value, field: str, errors: list, where) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        errors.append(where(f"{field} must be a list of words, e.g. {field}: [evaluation, mlops]"))
        return ()
    items = [" ".join(str(v).split()) for v in value]
    if any(not v for v in items):
        errors.append(where(f"{field} has an empty entry; remove it"))
    return tuple(dict.fromkeys(v for v in items if v))


def parse_file(path: Path, content_dir: Path) -> tuple[ParsedQuestion | None, list[ContentError]]:
    """Parse one question file. Returns (question or None, problems)."""
    shown = os.path.relpath(path, Path.cwd()) if path.is_absolute() else str(path)
    errors: list[ContentError] = []

    def err(line: int, message: str) -> tuple[None, list[ContentError]]:
        errors.append(ContentError(shown, line, message))
        return None, errors

    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(content_dir.resolve()):
            return err(0, f"is a link to {target}, outside the content folder; copy the file in instead")
    try:
        size = path.stat().st_size
        if size > MAX_CONTENT_BYTES:
            return err(0, f"is {size:,} bytes, over the {MAX_CONTENT_BYTES // 1024} KiB limit for one question; "
                          "split it or shorten it")
        raw = path.read_bytes()
    except OSError as exc:
        return err(0, f"cannot be read ({exc.strerror}); check that it exists and is readable")
    if not raw.strip():
        return err(0, "is empty; start from the template in README.md (\"Adding a question\")")
    if b"\x00" in raw:
        return err(raw[:raw.index(b"\x00")].count(b"\n") + 1, "contains NUL bytes: this looks like a binary file, "
                                                               "not Markdown; remove it from the content folder")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return err(line, f"is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")

    qid = path.stem
    if not ID_PATTERN.match(qid):
        err(0, f"the file name is the question's id and must be lowercase words joined by hyphens; "
               f"rename it to {slugify(qid)}.md")

    # front matter
    if lines[0].strip() != "---":
        return err(1, "must start with a front matter block: a line '---', then title/topics/aliases, then '---'")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return err(1, "the front matter opened with '---' on line 1 is never closed; add a line '---' after it")
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        problem = getattr(exc, "problem", None) or "invalid YAML"
        return err(line, f"front matter is not valid YAML ({problem}); quote values that contain ':' or '#'")
    if not isinstance(meta, dict):
        return err(2, "front matter must be 'key: value' lines (title, topics, aliases)")

    def key_line(key: str) -> int:
        return next((i + 1 for i in range(1, end) if lines[i].lstrip().startswith(f"{key}:")), 1)

    for key in meta:
        if key not in FIELDS:
            near = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"expected {', '.join(FIELDS)}"
            err(key_line(str(key)), f"unknown front matter field {key!r}; {hint}")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        err(key_line("title") if "title" in meta else 1,
            "missing title: add a line like title: \"What is overfitting?\" to the front matter")
        title = ""
    title = " ".join(title.split())
    if len(title) > MAX_TITLE_CHARS:
        err(key_line("title"), f"title is {len(title)} characters; keep it under {MAX_TITLE_CHARS}")
    topics = _string_list(meta.get("topics"), "topics", errors, lambda m: ContentError(shown, key_line("topics"), m))
    if not topics and "topics" not in meta:
        err(1, "missing topics: add a line like topics: [evaluation] to the front matter")
    elif not topics and not any(e.line == key_line("topics") for e in errors):
        err(key_line("topics"), "topics is empty; give at least one, e.g. topics: [evaluation]")
    topics = tuple(t.lower() for t in topics)
    aliases = _string_list(meta.get("aliases"), "aliases", errors, lambda m: ContentError(shown, key_line("aliases"), m))

    # sections
    found: dict[str, tuple[int, list[str]]] = {}
    current: str | None = None
    under_bad_heading = False  # text under an unknown or duplicate heading is covered by that heading's error
    stray_reported = False
    expected = ", ".join(f'"{h}"' for _, h in SECTIONS)
    for i in range(end + 1, len(lines)):
        line = lines[i]
        m = re.match(r"^##\s+(.*?)\s*#*\s*$", line)
        if m and not line.startswith("###"):
            heading = m.group(1)
            key = HEADING_TO_KEY.get(heading)
            if key is None:
                folded = {h.lower(): h for h in HEADING_TO_KEY}
                near = folded.get(heading.lower()) or next(iter(difflib.get_close_matches(heading, HEADING_TO_KEY, n=1)), None)
                hint = f'; did you mean "{near}"?' if near else ""
                err(i + 1, f'unknown section "{heading}"; expected one of {expected}{hint}')
                current, under_bad_heading = None, True
                continue
            if key in found:
                err(i + 1, f'duplicate section "{heading}" (first on line {found[key][0]}); merge the two')
                current, under_bad_heading = None, True
                continue
            found[key] = (i + 1, [])
            current, under_bad_heading = key, False
        elif current is not None:
            found[current][1].append(line)
        elif line.strip() and not stray_reported and not under_bad_heading:
            stray_reported = True
            if re.match(r"^#\s", line):
                err(i + 1, "the title belongs in the front matter (title: …), not in a '# ' heading; remove this line")
            else:
                err(i + 1, f'text outside any section; put it under one of {expected}')
    sections = []
    for key, heading in SECTIONS:
        if key not in found:
            err(len(lines) if lines[-1] else max(1, len(lines) - 1),
                f'missing section "{heading}"; add "## {heading}" followed by its text')
            continue
        line, body = found[key]
        body_text = "\n".join(body).strip()
        if not body_text:
            err(line, f'section "{heading}" is empty; write its text under the heading')
            continue
        sections.append(ParsedSection(key, heading, body_text, line))
    if errors:
        return None, errors
    rel = path.relative_to(content_dir).as_posix()
    return ParsedQuestion(qid, title, topics, aliases, rel, tuple(sections), hashlib.sha256(raw).hexdigest()), []


def load_bank(content_dir: Path) -> list[ParsedQuestion]:
    """Parse every question file under `content_dir`.

    Raises ContentErrors listing every problem in every file (nothing is returned partly).
    """
    content_dir = Path(content_dir)
    if not content_dir.is_dir():
        raise ContentErrors([ContentError(str(content_dir), 0, "the content folder does not exist; "
                                                               "create it or pass --content DIR")])
    questions: list[ParsedQuestion] = []
    problems: list[ContentError] = []
    seen: dict[str, str] = {}
    for path in content_files(content_dir):
        q, errs = parse_file(path, content_dir)
        problems.extend(errs)
        qid = path.stem
        if qid in seen:
            problems.append(ContentError(str(path), 0, f"duplicate question id {qid!r}: {seen[qid]} has the same "
                                                      "file name; rename one of them"))
        else:
            seen[qid] = str(path)
        if q is not None:
            questions.append(q)
    if not questions and not problems:
        problems.append(ContentError(str(content_dir), 0, "holds no question files (*.md); add one from the "
                                                          "template in README.md"))
    if problems:
        raise ContentErrors(problems)
    return sorted(questions, key=lambda q: q.id)
