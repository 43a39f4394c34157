"""Safe Markdown for Streamlit: content and queries are escaped, never rendered as HTML.

Streamlit's Markdown would otherwise interpret `<tags>`, `**emphasis**`, `$maths$`, `:colour[directives]` and
`:emoji:` codes found in the bank or in a query. Every ASCII punctuation character is backslash-escaped (CommonMark
turns `\\x` into a literal `x` for any punctuation), so text always shows exactly as written.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from urllib.parse import quote

_PUNCTUATION = set(string.punctuation)
_HIGHLIGHT = "orange-background"  # a theme colour: readable in the light and the dark theme


def _escape_inline(text: str) -> str:
    return "".join("\\" + ch if ch in _PUNCTUATION else ch for ch in text)


def escape_md(text: str) -> str:
    """`text` as Markdown that renders as exactly that text: punctuation escaped, line breaks kept."""
    # Leading spaces would turn a line into a code block; the text itself never needs them.
    return "  \n".join(_escape_inline(line.strip()) for line in str(text).splitlines())


def highlight(text: str, terms) -> str:
    """Escaped Markdown of `text` with each whole-word occurrence of `terms` (any case) on a highlight.

    Terms are matched as whole words, so highlighting "auc" leaves "because" alone.
    """
    words = sorted({t.lower() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not words:
        return escape_md(text)
    term = "(?:" + "|".join(re.escape(w) for w in words) + ")"
    # A run of terms joined by spaces or hyphens ("cross-validation") is one highlight, not several.
    pattern = re.compile(rf"(?<!\w){term}(?:[\s-]+{term})*(?!\w)", re.IGNORECASE)
    out = []
    for line in str(text).splitlines():
        line = line.strip()
        pieces, last = [], 0
        for m in pattern.finditer(line):
            pieces.append(_escape_inline(line[last:m.start()]))
            pieces.append(f":{_HIGHLIGHT}[{_escape_inline(m.group(0))}]")
            last = m.end()
        pieces.append(_escape_inline(line[last:]))
        out.append("".join(pieces))
    return "  \n".join(out)


def why_matched(hit) -> str:
    """One plain sentence saying why a hit matched: the words it shares with the query, and how close in meaning."""
    if hit.matched_terms:
        shown = ", ".join(hit.matched_terms[:6]) + ("…" if len(hit.matched_terms) > 6 else "")
        words = f"it shares the words {shown} with your search"
    else:
        words = "it shares no words with your search"
    closeness = "very close" if hit.dense_score >= 0.6 else "close" if hit.dense_score >= 0.4 else "loosely related"
    return f"Why this matched: {words}, and it is {closeness} in meaning (similarity {hit.dense_score:.2f})."


OPEN_ANCHOR = "open-"  # a card's "open this question" link is #open-<question id>
MORE_ANCHOR = "more-"  # and its "other sections" link #more-<question id>
TYPED_ANCHOR = "typed-"  # "search instead for <as typed>" is #typed-<query>
TOPIC_ANCHOR = "topic-"  # a topic's link (browse it) is #topic-<topic>
CARD_SEPARATOR = "\n\n---\n\n"
LOOSE_HEADING = "Loosely related: far below the first result"


@dataclass(frozen=True)
class Card:
    """One result card: a question, its best matching section (with the query's words) and its other sections."""

    question_id: str
    title: str
    heading: str
    text: str
    terms: frozenset[str]
    why: str
    others: tuple[tuple[str, str], ...]  # (heading, text) of the question's other sections
    passage: tuple[str, str, frozenset[str]] | None = None  # (heading, excerpt, words): where the query's
    # distinctive words are, when the section shown lacks them (index.results.matching_passage)


def card_markdown(card: Card, expanded: bool) -> str:
    """One card as Markdown (all escaped): the question, the matched section's badge, its text with the query's
    words highlighted, why it matched, then two links: open the question, and show (or hide) its other sections,
    which follow when `expanded`."""
    qid = quote(card.question_id, safe="")
    more = ("Hide the other sections" if expanded
            else "The other sections: " + ", ".join(heading for heading, _ in card.others))
    parts = [f"#### {escape_md(card.title)}",
             f":blue-badge[:material/bookmark: {escape_md(card.heading)}]",
             highlight(card.text, card.terms)]
    if card.passage is not None:
        heading, text, words = card.passage
        parts += [f":violet-badge[:material/format_quote: Matching passage, {escape_md(heading)}]",
                  "> " + highlight(text, words).replace("\n", "\n> ")]
    parts += [f":gray[:small[{escape_md(card.why)}]]",
             f"[:material/open_in_full: Open this question and related ones](#{OPEN_ANCHOR}{qid})"
             + (f" · [{escape_md(more)}](#{MORE_ANCHOR}{qid})" if card.others else "")]
    if expanded:
        parts += [f"**{escape_md(heading)}**  \n{highlight(text, card.terms)}" for heading, text in card.others]
    return "\n\n".join(parts)


def cards_markdown(cards, expanded=frozenset()) -> str:
    """Every result card as one Markdown block, separated by rules; cards whose id is in `expanded` show their
    other sections."""
    return CARD_SEPARATOR.join(card_markdown(card, card.question_id in expanded) for card in cards)


def loose_markdown(cards) -> str:
    """The loosely related questions, set apart under a rule and quieter than the cards: each its title as a link
    that opens it and, in small grey, why it matched (no section text)."""
    lines = [f"- :small[[{escape_md(card.title)}](#{OPEN_ANCHOR}{quote(card.question_id, safe='')})]  \n"
             f"  :gray[:small[{escape_md(card.why)}]]" for card in cards]
    return "---\n\n" + f":gray[{escape_md(LOOSE_HEADING)}]\n\n" + "\n".join(lines)


def topic_links_markdown(topics) -> str:
    """Each topic as a link that browses it (#topic-<topic>), separated by middle dots."""
    return " · ".join(f"[{escape_md(topic)}](#{TOPIC_ANCHOR}{quote(topic, safe='')})" for topic in topics)


def corrected_markdown(corrected: str, typed: str) -> str:
    """The line a repaired query gets: "Showing results for **overfitting** · Search instead for [overfitnig]",
    the second part a link (#typed-<query>) that searches the words as typed."""
    return (f"Showing results for **{escape_md(corrected)}** · Search instead for "
            f"[{escape_md(typed)}](#{TYPED_ANCHOR}{quote(typed, safe='')})")


_TEMPLATES = ("what is {}", "example of {}", "common mistakes with {}", "{} in production")


def example_queries(questions, n: int = 4) -> list[str]:
    """A few queries to click on an empty page, made from the bank's own aliases (so they always find something)."""
    out = []
    for i, q in enumerate(sorted(questions, key=lambda q: q.id)):
        name = q.aliases[0] if q.aliases else q.title.rstrip("?")
        out.append(_TEMPLATES[i % len(_TEMPLATES)].format(name))
        if len(out) == n:
            break
    return out


def nearest_topics(result, limit: int = 4) -> list[str]:
    """Topics of the questions closest to a query, best first, without repeats."""
    seen: dict[str, None] = {}
    for group in result.groups:
        for topic in group.topics:
            seen.setdefault(topic, None)
    return list(seen)[:limit]


_MARKUP = set("\\`*_[]<>#|")


def escape_md_plain(text: str) -> str:
    """Lighter escaping for Markdown files people read as plain text: only characters that would start markup."""
    return "".join("\\" + ch if ch in _MARKUP else ch for ch in str(text))
