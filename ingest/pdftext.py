"""A PDF's logical lines: pypdf's visual lines joined back across wraps and page breaks.

A PDF's text comes back as visual lines: long lines wrapped, and a line that a page break split in two
pieces. `logical_lines` joins them back from the layout: within a page, a gap between two lines wider than
the page's usual line spacing ends a line; across a page break (where there is no gap to measure) a line
ends only if the page's last line ends a sentence and stops well short of the page's full lines. A PDF
without paragraph spacing is read by that second rule on every line. ingest/importer.py reads exports with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from index.errors import ContentError, ContentErrors

# A paragraph gap is a line-to-line distance this many times the page's usual line spacing.
PARAGRAPH_GAP = 1.3
# Without a gap to measure, a line was ended on purpose when the next word would have fitted within this share of
# the page's full lines (in characters).
FITS = 0.95
_SENTENCE_END = re.compile(r"[.!?…][)\"'’”]*$")


@dataclass(frozen=True)
class PdfLines:
    """A PDF's logical lines as (text, page of its start), and the pages whose last line could not be told
    apart from a wrapped one."""

    lines: list[tuple[str, int]]
    unsure_pages: tuple[int, ...] = ()


def _pdf_page_lines(page) -> list[tuple[str, float]]:
    """A page's visual lines as (text, y of the baseline), top to bottom in reading order."""
    pieces: list[tuple[str, float | None]] = []

    def visit(text, cm, tm, font, size):
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        pieces.append((text, y))

    page.extract_text(visitor_text=visit)
    lines, buf, y_line = [], [], None
    for text, y in pieces:
        parts = text.split("\n")
        for j, part in enumerate(parts):
            if j:
                lines.append(("".join(buf), y_line))
                buf, y_line = [], None
            if part:
                buf.append(part)
                if y_line is None and part.strip():
                    y_line = y
    lines.append(("".join(buf), y_line))
    return [(" ".join(t.split()), y) for t, y in lines if t.strip() and y is not None]


def _next_word_fits(line: str, next_line: str, page_lines: list[tuple[str, float]]) -> bool:
    """Whether the next line's first word would have fitted on `line`: then the line was ended on purpose.

    Measured in characters against the page's full lines (the 90th percentile of their lengths), with a margin
    for proportional fonts, whose full lines vary by about a tenth in characters.
    """
    lengths = sorted(len(t) for t, _ in page_lines)
    full = lengths[int(0.9 * (len(lengths) - 1))]
    return len(line) + 1 + len(next_line.split()[0]) <= FITS * full


def _join(a: str, b: str) -> str:
    # a word hyphenated at the end of a visual line ("self-" / "supervised") is one word
    if re.search(r"[A-Za-z0-9]-$", a) and b[:1].isalpha():
        return a + b
    return f"{a} {b}"


def _pitch(lines: list[tuple[str, float]]) -> float:
    """A page's usual distance between two lines of one paragraph (the lower quartile of its line gaps)."""
    gaps = sorted(a[1] - b[1] for a, b in zip(lines, lines[1:]) if a[1] > b[1])
    return gaps[len(gaps) // 4] if gaps else 0.0


def logical_lines(path: Path, drop: re.Pattern, header_lines: int, lines_per_item: int) -> PdfLines:
    """A PDF's logical lines: wrapped and page-split lines joined.

    Within a page, a gap wider than the page's line spacing ends a line. At a page break, the page's last line
    ends a logical line when it ends a sentence and either the page had room for one more line below it (a
    paragraph that went on would have used it) or the next page's first word would have fitted on it. What
    that leaves open (a full last line ending a sentence, the next page starting with a capital) is settled by
    the item size: when exactly the breaks are missing that complete the last item, those joins are undone.

    Args:
        path: the PDF.
        drop: visual lines matching it (page footers) are removed before the layout is read.
        header_lines: how many logical lines precede the items (not counted in an item).
        lines_per_item: how many logical lines each item has.
    Raises:
        ContentErrors when the PDF cannot be read, or has no space between paragraphs and wrapped lines.
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    shown = str(path)
    try:
        pages = [_pdf_page_lines(p) for p in PdfReader(path).pages]
    except (PdfReadError, OSError, ValueError) as exc:
        raise ContentErrors([ContentError(shown, 0, f"cannot be read as a PDF ({exc}); export it again, or as "
                                                    "text")]) from None
    pages = [[(t, y) for t, y in lines if not drop.fullmatch(t)] for lines in pages]
    pages = [(number, lines) for number, lines in enumerate(pages, start=1) if lines]
    spacing = {number: _pitch(lines) for number, lines in pages}
    spaced = {number for number, lines in pages
              if any(a[1] - b[1] > PARAGRAPH_GAP * spacing[number] for a, b in zip(lines, lines[1:]))}
    body = [t for _, lines in pages for t, _ in lines][header_lines:]
    wrapped = any(not _SENTENCE_END.search(t) for t in body)
    if pages and not spaced and wrapped:
        raise ContentErrors([ContentError(shown, 0, "has no space between its paragraphs, so a wrapped line cannot "
                                                    "be told from the end of one; export it as text, or as a PDF "
                                                    "with space between paragraphs")])
    lowest = min((lines[-1][1] for _, lines in pages), default=0.0)  # the lowest a page's last line goes
    paragraphs: list[list] = []  # [text, page of its first line]
    undecided: list[tuple[int, int, int]] = []  # (paragraph, offset, next page) of joins that could be breaks
    open_paragraph = False
    for at, (number, lines) in enumerate(pages):
        pitch = spacing[number]
        for i, (text, y) in enumerate(lines):
            if open_paragraph:
                paragraphs[-1][0] = _join(paragraphs[-1][0], text)
            else:
                paragraphs.append([text, number])
            if not wrapped:
                ends = True
            elif i + 1 < len(lines):
                gap = y - lines[i + 1][1]
                ends = (gap > PARAGRAPH_GAP * pitch or gap <= 0) if number in spaced else \
                    bool(_SENTENCE_END.search(text)) and _next_word_fits(text, lines[i + 1][0], lines)
            elif at + 1 < len(pages):
                room_below = y - pitch >= lowest - 0.1 * pitch
                next_text = pages[at + 1][1][0][0]
                sentence_end = bool(_SENTENCE_END.search(text))
                ends = sentence_end and (room_below or _next_word_fits(text, next_text, lines))
                if sentence_end and not ends and next_text[:1].isupper():
                    undecided.append((len(paragraphs) - 1, len(paragraphs[-1][0]), pages[at + 1][0]))
            else:
                ends = True
            open_paragraph = not ends
    missing = -(len(paragraphs) - header_lines) % lines_per_item
    if missing and len(undecided) == missing:
        for index, offset, next_page in reversed(undecided):
            text, page = paragraphs[index]
            paragraphs[index:index + 1] = [[text[:offset], page], [text[offset + 1:], next_page]]
        undecided = []
    return PdfLines([(text, page) for text, page in paragraphs],
                    tuple(dict.fromkeys(next_page - 1 for _, _, next_page in undecided)))
