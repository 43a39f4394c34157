"""Import a question export (the seed's format, as text or PDF) into question files marked as drafts.

The export: two header lines, then five lines per question (short answer, explanation, example, common mistakes,
production story), and a footer `PAGE n OF m …` at the end of each page. It has no titles, so each question
gets a drafted one (`draft_title`) and `draft: true` in its front matter until the user confirms it.
A PDF's wrapped and page-split visual lines are joined back into logical lines by ingest/pdftext.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from index import atomic
from index.errors import ContentError, ContentErrors, SearchToolError
from index.store import content_files

from .content import FORM, SECTIONS, QuestionFields, check_fields, parse_file, suggest_id
from .edit import READONLY_ENV, read_only
from .pdftext import _join, logical_lines  # noqa: F401 (_join is imported from here)

HEADER_LINES = 2
FOOTER = re.compile(r"PAGE\s+\d+\s+OF\s+\d+\b.*")
IMPORT_TOPIC = "imported"  # a draft needs a topic to be valid; the user replaces this one when confirming it


@dataclass(frozen=True)
class ExportLine:
    text: str
    line: int  # 1-based: the file's line (text) or the logical line's number (PDF)
    page: int | None = None  # PDF page of the line's start


@dataclass(frozen=True)
class Export:
    """An export's logical lines (header and footers removed) and, for a PDF, the pages whose last line could
    not be told apart from a wrapped one."""

    lines: list[ExportLine]
    unsure_pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class Draft:
    """One imported question, before it is written."""

    id: str
    fields: QuestionFields
    source: ExportLine  # its short answer, where the question starts in the export
    raw: bytes = b""  # the file to write (empty for a question already in the bank)


@dataclass(frozen=True)
class ImportReport:
    written: tuple[Path, ...]
    already_in_bank: tuple[tuple[Draft, Path], ...]  # identical (word for word) to an existing question

    def summary(self) -> str:
        parts = [f"imported {len(self.written)} question{'s' if len(self.written) != 1 else ''} as drafts"]
        if self.already_in_bank:
            parts.append(f"{len(self.already_in_bank)} already in the bank, skipped")
        lines = ["; ".join(parts)]
        lines += [f"  {p}" for p in self.written]
        lines += [f"  skipped (same text as {p}): {d.fields.title}" for d, p in self.already_in_bank]
        if self.written:
            lines.append("Confirm each drafted title (and its topics), then remove `draft: true`; "
                         "run `python -m ingest` to index them")
        return "\n".join(lines)


def read_text(path: Path) -> Export:
    """The export's logical lines from a text file, header and footers removed, blank lines skipped."""
    shown = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContentErrors([ContentError(shown, 0, f"is not UTF-8 text (byte {exc.start}); export it as UTF-8 "
                                                    "or as a PDF")]) from None
    lines = [ExportLine(t.strip(), i + 1) for i, t in enumerate(text.replace("\r\n", "\n").split("\n"))]
    return Export(_strip_frame([x for x in lines if x.text]))


def _strip_frame(lines: list[ExportLine]) -> list[ExportLine]:
    """Drop the header (and its repeats on later pages) and every page footer."""
    header = {x.text for x in lines[:HEADER_LINES]}
    body = [x for x in lines[HEADER_LINES:] if not FOOTER.fullmatch(x.text) and x.text not in header]
    return body


def read_pdf(path: Path) -> Export:
    """The export's logical lines from a PDF (`pdftext.logical_lines`), header and footers removed.

    A page break the layout leaves open is settled by the five lines a question has: when exactly that many
    breaks are missing, those joins are undone.

    Raises ContentErrors when the PDF cannot be read, or has no space between paragraphs and wrapped lines.
    """
    pdf = logical_lines(path, FOOTER, HEADER_LINES, len(SECTIONS))
    return Export(_strip_frame([ExportLine(text, i + 1, page) for i, (text, page) in enumerate(pdf.lines)]),
                  pdf.unsure_pages)


def read_export(path: Path) -> Export:
    """The logical lines of an export file (.pdf by its content, anything else as UTF-8 text)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            is_pdf = f.read(5) == b"%PDF-"
    except OSError as exc:
        raise ContentErrors([ContentError(str(path), 0, f"cannot be read ({exc.strerror}); check the path")]) \
            from None
    return read_pdf(path) if is_pdf else read_text(path)


def _where_line(path: Path, x: ExportLine) -> tuple[str, int, str]:
    page = f" (page {x.page})" if x.page is not None else ""
    return str(path), x.line, page


def split_questions(path: Path, export: Export) -> list[list[ExportLine]]:
    """Group the lines five by five. Raises ContentErrors naming the line where an incomplete question starts."""
    lines = export.lines
    if not lines:
        raise ContentErrors([ContentError(str(path), 0, "holds no questions after its two header lines; is it "
                                                           "an export of the question bank?")])
    groups = [lines[i:i + len(SECTIONS)] for i in range(0, len(lines), len(SECTIONS))]
    last = groups[-1]
    if len(last) < len(SECTIONS):
        shown, line, page = _where_line(path, last[0])
        have = ", ".join(h.lower() for _, h in SECTIONS[:len(last)])
        missing = ", ".join(h.lower() for _, h in SECTIONS[len(last):])
        raise ContentErrors([ContentError(shown, line, f"question {len(groups)}{page} has {len(last)} of its "
                                                       f"{len(SECTIONS)} lines ({have}; missing {missing}): the "
                                                       "export looks cut off here (or a line is missing earlier, "
                                                       "shifting the rest); complete it or remove it, nothing "
                                                       f"was written{_unsure(export)}")])
    return groups


def _unsure(export: Export) -> str:
    if not export.unsure_pages:
        return ""
    pages = ", ".join(map(str, export.unsure_pages))
    return (f". In this PDF the line at the foot of page{'s' if len(export.unsure_pages) > 1 else ''} {pages} "
            "ends a sentence and fills its line, so it may end a question's line where it was read as wrapped; "
            "export the document as text to be sure")


_NOT_A_SUBJECT = {"it", "this", "that", "these", "those", "they", "which", "there", "both", "each", "using",
                  "when", "if", "during", "in", "for", "to", "with", "by", "on", "as", "after", "before", "detect",
                  "prevent", "handle", "use", "the", "its", "their", "then", "so"}


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", text) if s]


def _subject(sentence: str) -> tuple[str, str, list[str]] | None:
    """(subject, verb, aliases) of a sentence shaped "X is …" / "X predicts …", or None.

    The aliases are parentheses right after the subject: "Stochastic GD (SGD) computes …" -> ["SGD"].
    """
    words: list[str] = []
    parentheses: dict[int, list[str]] = {}  # word position -> parentheses just before it
    for token in re.findall(r"\([^)]*\)|[^\s(]+", sentence):
        if token.startswith("("):
            parentheses.setdefault(len(words), []).append(token[1:-1].strip())
        else:
            words.append(token.strip(",;:"))
    verb_at = next((j for j in range(1, min(len(words), 7)) if words[j] in ("is", "are")), None)
    if verb_at is None:  # "Classification predicts …": a lowercase verb ending in s after a short noun phrase
        verb_at = next((j for j in range(1, min(len(words), 5)) if re.fullmatch(r"[a-z]+[^s]s", words[j])), None)
    if verb_at is None:
        return None
    subject = words[:verb_at]
    if subject[0].lower() in _NOT_A_SUBJECT or not all(re.fullmatch(r"[\w'’/-]+", w) for w in subject):
        return None
    article = [subject.pop(0).lower()] if subject[0].lower() in ("a", "an") and len(subject) > 1 else []
    # a common noun is lowercased ("Overfitting" -> "overfitting"); names keep their case ("Random Forest", "F1")
    if re.fullmatch(r"[A-Z][a-z]+(?:-[a-z]+)*", subject[0]) and all(w == w.lower() for w in subject[1:]):
        subject[0] = subject[0].lower()
    aliases = [a for a in parentheses.get(verb_at, []) if 0 < len(a.split()) <= 3]
    return " ".join(article + subject), words[verb_at], aliases


def _list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def draft_title(short_answer: str) -> tuple[str, str, tuple[str, ...]]:
    """A drafted title, an id and aliases from a short answer, by a word-pattern heuristic (no language model).

    The first sentence's subject ("Overfitting is …", "A Random Forest builds …") gives "What is overfitting?";
    when the next sentences open in parallel ("Classification predicts … Regression predicts …", or subjects
    sharing a head word like "supervised learning" / "unsupervised learning"), "What is the difference between
    classification and regression?". A parenthesis right after a subject becomes an alias ("(SGD)").
    With no recognisable subject, the title quotes the first words of the answer. The id comes from the subjects.
    """
    sentences = _sentences(short_answer)
    first = _subject(sentences[0]) if sentences else None
    if first is None:
        words = short_answer.split()[:8]
        phrase = " ".join(words).rstrip(".,;:")
        phrase = phrase[:1].lower() + phrase[1:]
        return f"What does this describe: {phrase}…?", suggest_id(" ".join(words[:6])), ()
    subjects, aliases = [first[0]], list(first[2])
    verb, head = first[1], first[0].split()[-1].lower()
    for sentence in sentences[1:]:
        found = _subject(sentence)
        if found is None or found[0].split()[0].lower() == "the":
            break
        name, its_verb, its_aliases = found
        if its_verb != verb and name.split()[-1].lower() != head:
            break
        if not any(name.lower() == s.lower() or s.lower().startswith(name.lower() + " ") for s in subjects):
            subjects.append(name)
        aliases += its_aliases
    aliases = tuple(dict.fromkeys(a for a in aliases if a.lower() not in {s.lower() for s in subjects}))
    if len(subjects) > 1:
        return (f"What is the difference between {_list(subjects)}?", suggest_id("-vs-".join(subjects)), aliases)
    be = "are" if verb == "are" else "is"
    name = subjects[0].removeprefix("a ").removeprefix("an ")
    return f"What {be} {subjects[0]}?", suggest_id(name), aliases


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def plan(path: Path, out_dir: Path) -> tuple[list[Draft], list[tuple[Draft, Path]]]:
    """Read an export and decide what to write: (new drafts with free ids, drafts already in the bank).

    Raises ContentErrors (file and line) when the export is incomplete or a drafted question does not validate.
    """
    path, out_dir = Path(path), Path(out_dir)
    groups = split_questions(path, read_export(path))
    existing: dict[tuple[str, ...], Path] = {}
    taken: set[str] = set()
    if out_dir.is_dir():
        for file in content_files(out_dir):
            taken.add(file.stem)
            question, _ = parse_file(file, out_dir)
            if question is not None:
                existing.setdefault(tuple(_words(s.text) for s in question.sections), file)
    drafts, known, problems = [], [], []
    for group in groups:
        title, qid, aliases = draft_title(group[0].text)
        lines = {key: x for (key, _), x in zip(SECTIONS, group)}
        fields = QuestionFields(title, (IMPORT_TOPIC,), aliases, {key: x.text for key, x in lines.items()}, draft=True)
        words = tuple(_words(x.text) for x in group)
        if words in existing:
            known.append((Draft(qid, fields, group[0]), existing[words]))
            continue
        base, n = qid, 2
        while qid in taken:
            qid, n = f"{base}-{n}", n + 1
        taken.add(qid)
        existing[words] = out_dir / f"{qid}.md"  # the same question twice in one export is imported once
        _, raw, field_problems = check_fields(qid, fields)
        for p in field_problems:
            shown, line, page = _where_line(path, lines.get(p.field, group[0]))
            problems.append(ContentError(shown, line, f"{p.message}{page}" if p.field != FORM else p.message))
        drafts.append(Draft(qid, fields, group[0], raw))
    if problems:
        raise ContentErrors(problems)
    return drafts, known


def import_export(path: Path, out_dir: Path) -> ImportReport:
    """Import an export into `out_dir` as draft question files; never replaces a file.

    A question whose five sections match an existing question word for word (punctuation ignored) is skipped;
    a drafted id that is taken gets a numbered suffix (-2, -3, …). Nothing is written unless every question of
    the export is complete and valid.

    Raises:
        ContentErrors: the export is incomplete or a question does not validate (file and line; nothing written).
        SearchToolError: editing is switched off (MLPREP_READONLY), or the out folder cannot be written.
    """
    if read_only():
        raise SearchToolError(f"editing is switched off on this server ({READONLY_ENV} is set); nothing was "
                              "written")
    out_dir = Path(out_dir)
    drafts, known = plan(path, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for draft in drafts:
        target = out_dir / f"{draft.id}.md"
        try:
            atomic.create_bytes(target, draft.raw)
        except FileExistsError:
            raise SearchToolError(f"{target} appeared while importing (another writer?); it was left as it is. "
                                  f"Written so far: {', '.join(map(str, written)) or 'nothing'}; run the import "
                                  "again to add the rest") from None
        written.append(target)
    return ImportReport(tuple(written), tuple(known))
