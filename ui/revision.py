"""The revision sheet: every question's short answer on one printable page, as Markdown or standalone HTML."""

from __future__ import annotations

import html

from .render import escape_md, escape_md_plain


def _ordered(questions):
    return sorted(questions, key=lambda q: (q.topics[0] if q.topics else "", q.title.lower()))


def _short(question) -> str:
    section = question.section("short")
    return section.text if section else ""


def revision_markdown(questions, title: str = "ML interview revision sheet", for_screen: bool = False) -> str:
    """The sheet as Markdown; text is escaped so that it reads exactly as written.

    `for_screen` escapes every punctuation mark (for st.markdown, which also reads `$maths$` and `:directives[]`);
    otherwise only characters that start Markdown markup are escaped, so the downloaded file reads well as text.
    """
    esc = escape_md if for_screen else escape_md_plain
    # On screen the page has its own header, and compact headings keep the sheet scannable.
    lines = [] if for_screen else [f"# {esc(title)}", ""]
    heading = "####" if for_screen else "##"
    for q in _ordered(questions):
        lines.append(f"{heading} {esc(q.title)}")
        if q.topics:
            lines.append(f"*{esc(', '.join(q.topics))}*")
        lines.append("")
        lines.append(esc(_short(q)))
        lines.append("")
    return "\n".join(lines)


_CSS = """
body { font: 11pt/1.45 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #111; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.05rem; margin: 1.2rem 0 .2rem; }
.topics { color: #555; font-size: .85rem; margin: 0; } p { margin: .3rem 0; }
section { break-inside: avoid; }
@media print { body { margin: 0; max-width: none; } }
"""


def revision_html(questions, title: str = "ML interview revision sheet") -> str:
    """The sheet as one standalone, printable HTML page; every piece of content is HTML-escaped."""
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for q in _ordered(questions):
        parts.append("<section>")
        parts.append(f"<h2>{html.escape(q.title)}</h2>")
        if q.topics:
            parts.append(f'<p class="topics">{html.escape(", ".join(q.topics))}</p>')
        for para in _short(q).splitlines():
            if para.strip():
                parts.append(f"<p>{html.escape(para.strip())}</p>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
