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

Every problem in every file is collected (file, line, what to do) before anything is built. This module is the
one owner of the format: `parse_file`/`parse_bytes` read it, `render_question` writes it, and `check_fields`
validates a form by rendering it and parsing the result, so a form and a file get the same checks and messages.
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

from .ids import ID_PATTERN, MAX_ID_CHARS, RESERVED_IDS, id_problem, slugify, suggest_id  # noqa: F401 (re-exported)

# (key, heading) in the order they appear in a file; the key is the section's id in chunk ids.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("short", "Short answer"),
    ("explanation", "Explanation"),
    ("example", "Example"),
    ("mistakes", "Common mistakes"),
    ("story", "Production story"),
)
HEADING_TO_KEY = {heading: key for key, heading in SECTIONS}
FIELDS = {"title": "required text", "topics": "required list of tags", "aliases": "optional list of other names",
          "draft": "optional true/false: the title was drafted by an import and still needs confirming"}
MAX_TITLE_CHARS = 300
FORM = ""  # the field name of a problem that belongs to the whole question, not one field


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
    draft: bool = False  # imported with a drafted title that the user has not confirmed yet


@dataclass(frozen=True)
class QuestionFields:
    """A question as a form holds it: what `render_question` writes and `check_fields` validates."""

    title: str
    topics: tuple[str, ...]
    aliases: tuple[str, ...]
    sections: dict[str, str]  # section key (SECTIONS) -> text
    draft: bool = False


@dataclass(frozen=True)
class FieldProblem:
    """One problem in a form: the field it belongs to ("id", "title", "topics", "aliases", "draft", a section
    key, or FORM for the whole question) and the same message ingest gives for the same problem in a file."""

    field: str
    message: str


@dataclass(frozen=True)
class Rendered:
    text: str
    field_lines: dict[int, str]  # 1-based line number -> the field written on it


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

    def err(message: str) -> tuple[None, list[ContentError]]:
        return None, [ContentError(shown, 0, message)]

    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(content_dir.resolve()):
            return err(f"is a link to {target}, outside the content folder; copy the file in instead")
    try:
        size = path.stat().st_size
        if size > MAX_CONTENT_BYTES:
            return err(_too_big(size))
        raw = path.read_bytes()
    except OSError as exc:
        return err(f"cannot be read ({exc.strerror}); check that it exists and is readable")
    return parse_bytes(raw, path.stem, shown, path.relative_to(content_dir).as_posix())


def _too_big(size: int) -> str:
    return f"is {size:,} bytes, over the {MAX_CONTENT_BYTES // 1024} KiB limit for one question; split it or shorten it"


def parse_bytes(raw: bytes, qid: str, shown: str, rel: str) -> tuple[ParsedQuestion | None, list[ContentError]]:
    """Parse and validate one question's bytes.

    Args:
        raw: the file's contents.
        qid: the question's id (the file name without .md).
        shown: how problems name the file.
        rel: the file's path relative to the content folder (ParsedQuestion.path).
    Returns:
        (question or None, problems); the question only when there are no problems.
    """
    errors: list[ContentError] = []

    def err(line: int, message: str) -> tuple[None, list[ContentError]]:
        errors.append(ContentError(shown, line, message))
        return None, errors

    if len(raw) > MAX_CONTENT_BYTES:
        return err(0, _too_big(len(raw)))
    if not raw.strip():
        return err(0, "is empty; start from the template in docs/content.md")
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

    problem = id_problem(qid)
    if problem is not None:
        err(0, f"the file name is the question's id and {problem}; rename it to {suggest_id(qid)}.md")

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
    draft = meta.get("draft", False)
    if not isinstance(draft, bool):
        err(key_line("draft"), "draft must be true or false (true: the title still needs confirming)")
        draft = True

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
    return ParsedQuestion(qid, title, topics, aliases, rel, tuple(sections), hashlib.sha256(raw).hexdigest(),
                          draft), []


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
                                                          "template in docs/content.md"))
    if problems:
        raise ContentErrors(problems)
    return sorted(questions, key=lambda q: q.id)


def _yaml_scalar(value: str) -> str:
    # safe_dump escapes what YAML cannot hold literally (control characters, BOM, NEL); the parser reads it back
    return yaml.safe_dump(value, default_style='"', allow_unicode=True, width=float("inf")).strip()


def _yaml_list(values) -> str:
    return yaml.safe_dump(list(values), default_flow_style=True, allow_unicode=True, width=float("inf")).strip()


def render_question(fields: QuestionFields) -> Rendered:
    """Write a question in the content format (front matter, then the five sections in SECTIONS order).

    Returns the text and which field each line holds, so a parse problem at a line maps back to a form field.
    Section texts are written as given, stripped and with their line endings made "\n"; `check_fields` (or
    `parse_bytes`) decides whether the result is valid.
    """
    lines = ["---", f"title: {_yaml_scalar(' '.join(fields.title.split()))}", f"topics: {_yaml_list(fields.topics)}"]
    field_lines = {2: "title", 3: "topics"}
    if fields.aliases:
        lines.append(f"aliases: {_yaml_list(fields.aliases)}")
        field_lines[len(lines)] = "aliases"
    if fields.draft:
        lines.append("draft: true")
        field_lines[len(lines)] = "draft"
    lines.append("---")
    for key, heading in SECTIONS:
        text = fields.sections.get(key, "").replace("\r\n", "\n").replace("\r", "\n").strip()
        lines += ["", f"## {heading}", ""]
        field_lines[len(lines) - 1] = key
        for line in text.split("\n") if text else []:
            lines.append(line)
            field_lines[len(lines)] = key
    return Rendered("\n".join(lines) + "\n", field_lines)


def fields_of(question: ParsedQuestion) -> QuestionFields:
    """The form fields of a parsed question (what an edit form starts from)."""
    return QuestionFields(question.title, question.topics, question.aliases,
                          {s.key: s.text for s in question.sections}, question.draft)


def check_fields(qid: str, fields: QuestionFields, shown: str | None = None,
                 ) -> tuple[ParsedQuestion | None, bytes, list[FieldProblem]]:
    """Validate a form with the parser ingest uses: render it, parse the result, map each problem to its field.

    Args:
        qid: the question's id; checked first, and nothing else is checked while it is invalid.
        fields: the form's values.
        shown: how messages name the file (default "<qid>.md").
    Returns:
        (question or None, the rendered bytes, problems); the question only when there are no problems.
    """
    problem = id_problem(qid)
    if problem is not None:
        return None, b"", [FieldProblem("id", f"the id {problem}; for example {suggest_id(qid or fields.title)}")]
    rendered = render_question(fields)
    # surrogatepass: a lone surrogate from a browser becomes the parser's "not valid UTF-8" problem, not a crash
    raw = rendered.text.encode("utf-8", "surrogatepass")
    question, errors = parse_bytes(raw, qid, shown or f"{qid}.md", f"{qid}.md")
    problems = [FieldProblem(rendered.field_lines.get(e.line, FORM), e.message) for e in errors]
    return question, raw, problems
