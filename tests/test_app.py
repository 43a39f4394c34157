"""The Streamlit page, flow by flow, with streamlit.testing.v1.AppTest on a fake-embedder index of the fixture bank,
plus the pure helpers in ui/ (safe Markdown, revision sheet, map projection). Practice: tests/test_practice_app.py."""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import FakeEmbedder
from index import open_index, store
from ui.page import PAGE_STYLE_HTML
from index.model import Question, Section
from ui import revision, topicmap
from ui.card_links import EXPANDED, SHOWN_TOPICS
from ui.navigation import TYPED
from ui.render import (CARD_SEPARATOR, LOOSE_HEADING, Card, card_markdown, corrected_markdown, escape_md,
                       example_queries, highlight, loose_markdown, topic_links_markdown, why_matched)

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SCRIPT = "<script>alert(1)</script>"
MARKUP_QUESTION = f"""---
title: "Is <b>markup</b> in a title shown as text?"
topics: [evaluation]
aliases: [markup]
---

## Short answer

It shows as text: {SCRIPT} never runs.

## Explanation

Escaped before display.

## Example

**not bold** and $not maths$ and :red[not red].

## Common mistakes

Trusting content.

## Production story

A pasted script once ran in a wiki.
"""


@pytest.fixture
def app(monkeypatch, fake_index, tmp_path):
    """An AppTest factory pointed at a fake-embedder index; the build in the app uses the fake embedder too."""
    index_dir, content_dir, _ = fake_index
    from index.search import Index

    build_module = importlib.import_module("ingest.build")  # `ingest.build` the attribute is the function
    real_build = build_module.build
    monkeypatch.setattr(Index, "_load_embedder", lambda self: FakeEmbedder())
    monkeypatch.setattr(build_module, "build", lambda content, index, model=None, **kw: real_build(
        content, index, embedder=FakeEmbedder(), **kw))
    monkeypatch.setenv("MLPREP_INDEX", str(index_dir))
    monkeypatch.setenv("MLPREP_CONTENT", str(content_dir))
    monkeypatch.setenv("MLPREP_PRACTICE", str(tmp_path / "practice.json"))
    monkeypatch.setenv("MLPREP_DATABASE", str(tmp_path / "progress.db"))  # progress never in build/

    def make(**params) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=30)
        for key, value in params.items():
            at.query_params[key] = value
        return at

    make.index_dir, make.content_dir, make.practice = index_dir, content_dir, tmp_path / "practice.json"
    make.build = functools.partial(real_build, embedder=FakeEmbedder())
    return make


def texts(at) -> str:
    """Every piece of Markdown-like text on the page, joined (what a reader would see, in escaped form)."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.label for e in at.expander]
    parts += [b.label for b in at.button] + [w.value for w in at.warning] + [e.value for e in at.error]
    return "\n".join(parts)


def cards(at) -> list[str]:
    """The result cards' Markdown: every card is in one Markdown block, each card starting with its title."""
    return [card for m in at.markdown if m.value.startswith("#### ") for card in m.value.split(CARD_SEPARATOR)]


def card_titles(at) -> list[str]:
    """The result cards' questions."""
    return [card[5:].split("\n\n")[0] for card in cards(at)]


def search(at, query: str) -> AppTest:
    at.text_input(key="q").input(query)
    return at.run()


# --------------------------------------------------------------------------- flows
def test_empty_state_shows_bank_size_topics_and_clickable_examples(app):
    at = app().run()
    assert not at.exception
    assert "**3 questions**" in texts(at)
    # the topics are links (they look like links and Tab reaches them); following one browses it (ui.card_links)
    assert any(m.value == "Browse a topic: [evaluation](#topic-evaluation) · [fundamentals](#topic-fundamentals) · "
                          "[unsupervised](#topic-unsupervised)" for m in at.markdown)
    assert at.session_state[SHOWN_TOPICS] == ["evaluation", "fundamentals", "unsupervised"]
    assert not [b for b in at.button if b.key and "topic" in b.key]
    example = next(b for b in at.button if b.key == "example-0")
    example.click().run()
    assert at.text_input(key="q").value == example.label.replace("\\", "")
    assert card_titles(at), "clicking an example query shows results"


def test_search_groups_by_question_with_badge_highlight_why_and_other_sections(app):
    at = search(app().run(), "what does ROC AUC measure")
    assert not at.exception
    titles = card_titles(at)
    assert titles[0] == escape_md("What does ROC AUC measure?")
    assert len(titles) == len(set(titles)), "one card per question"
    assert any(":blue-badge[" in m.value for m in at.markdown)
    assert any(":orange-background[ROC" in m.value for m in at.markdown)
    assert any(escape_md("Why this matched: it shares the words") in m.value and "in meaning" in m.value
               for m in at.markdown)
    # every card is a link to its question and a link to its other sections, and the results have no widget
    assert all("](#open-" in card and "](#more-" in card and escape_md("The other sections:") in card for card in cards(at))
    assert "(#open-roc-auc)" in cards(at)[0]
    assert not [e for e in at.expander if e.label.startswith("The other sections")] and not at.main.button
    # the matched section first, the other four one link away (sent only once opened)
    headings = ("**Explanation**", "**Example**", "**Common mistakes**", "**Production story**", "**Short answer**")
    assert not any(h in card for card in cards(at) for h in headings)
    at.session_state[EXPANDED] = {"roc-auc"}  # what following that card's link sets
    at.run()
    first = cards(at)[0].split("\n\n")
    assert sum(part.startswith(headings) for part in first) == 4 and "Hide the other sections" in cards(at)[0]
    assert not any(h in card for card in cards(at)[1:] for h in headings), "only the opened card's sections"
    assert any(c.value.startswith(f"{len(titles)} question") and "ms" in c.value for c in at.caption)


def test_deep_link_restores_query_section_filter_and_view(app):
    at = app(q="ROC AUC", section="Common mistakes").run()
    assert not at.exception
    assert at.text_input(key="q").value == "ROC AUC"
    assert at.multiselect(key="section").value == ["Common mistakes"]
    badges = [m.value for m in at.markdown if ":blue-badge[" in m.value]
    assert badges and all("Common mistakes" in b for b in badges)


def test_topic_filter_keeps_only_that_topic(app):
    at = app(q="how does it work", topic="fundamentals").run()
    titles = card_titles(at)
    assert titles and escape_md("What does ROC AUC measure?") not in titles


def test_open_question_shows_related_and_a_click_updates_the_url(app):
    at = app(open="roc-auc").run()
    assert not at.exception
    assert any(m.value == "### " + escape_md("What does ROC AUC measure?") for m in at.markdown)
    related = [b for b in at.button if b.key and b.key.startswith("related-")]
    assert len(related) == 2  # the fixture bank has three questions
    target = related[0].key.removeprefix("related-")
    related[0].click().run()
    assert at.query_params["open"] == [target] or at.query_params["open"] == target
    idx = open_index(app.index_dir, check_stale=False, embedder=FakeEmbedder())
    assert any(m.value == "### " + escape_md(idx.question(target).title) for m in at.markdown)
    # Back returns to the question the related one was opened from, then to the search
    assert at.button(key="back").label == "Back to " + escape_md("What does ROC AUC measure?")
    at.button(key="back").click().run()
    assert at.query_params["open"] in (["roc-auc"], "roc-auc")
    assert any(m.value == "### " + escape_md("What does ROC AUC measure?") for m in at.markdown)
    assert at.button(key="back").label == "Back"
    at.button(key="back").click().run()
    assert "open" not in at.query_params


def test_back_follows_a_chain_of_related_questions(app):
    at = app(open="roc-auc").run()
    first = next(b for b in at.button if b.key and b.key.startswith("related-")).key.removeprefix("related-")
    at.button(key=f"related-{first}").click().run()
    second = next(b for b in at.button if b.key and b.key.startswith("related-") and b.key != "related-roc-auc")
    second = second.key.removeprefix("related-")
    at.button(key=f"related-{second}").click().run()
    opened = []
    for _ in range(3):
        at.button(key="back").click().run()
        opened.append(at.query_params.get("open"))
    assert [o[0] if isinstance(o, list) else o for o in opened] == [first, "roc-auc", None]


def test_unknown_open_id_is_a_warning_not_a_crash(app):
    at = app(open="../../etc/passwd").run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "has no question" in warning and "Search for it above" in warning
    assert "python" not in warning and "`" not in warning, "a web user gets no command line"
    at = app(open="roc-aux").run()  # a typo: the near id is offered
    assert any(b.key == "near-id-roc-auc" for b in at.button)


def test_no_close_match_says_so_and_offers_nearest_topics(app):
    at = search(app().run(), "qwxz vbnm plok")
    assert not at.exception
    assert any(w.value.startswith("Nothing in the bank answers") for w in at.warning)
    links = next(m.value for m in at.markdown if m.value.startswith("Browse the nearest topics: "))
    topic = at.session_state[SHOWN_TOPICS][0]
    assert f"[{topic}](#topic-{topic})" in links
    at.session_state["view"], at.session_state["topic"] = "Browse", [topic]  # what following the link sets
    at.run()
    # Browse follows the Topics filter, which now holds that topic
    assert at.multiselect(key="topic").value == [topic]
    browsed = {b.key.split("-")[1] for b in at.button if b.key and b.key.startswith("browse-")}
    assert browsed == {topic}


def test_a_repaired_query_says_so_and_can_be_searched_as_typed(app):
    at = search(app().run(), "what is regularizaton")
    assert not at.exception
    line = [m.value for m in at.markdown if m.value.startswith("Showing results for")]
    assert line == [corrected_markdown("what is regularization", "what is regularizaton")]
    assert "**what is regularization** · Search instead for [what is regularizaton](#typed-what%20is%20regularizaton)" \
        in line[0]
    at.session_state[TYPED] = "what is regularizaton"  # what following "search instead" sets
    at.run()
    assert not [m for m in at.markdown if m.value.startswith("Showing results for")]
    # the words as typed are searched: here nothing in the bank holds "regularizaton", and the page says so
    assert any("what is regularizaton" in w.value for w in at.warning) and not card_titles(at)
    search(at, "what is regularizaton now")  # another query repairs again
    assert [m for m in at.markdown if m.value.startswith("Showing results for")]


def test_cards_show_the_matching_passage_and_set_apart_the_loosely_related(app):
    at = search(app().run(), "AUC churn customer")
    assert not at.exception
    assert card_titles(at) == [escape_md("What does ROC AUC measure?")]
    loose = [m.value for m in at.markdown if m.value.startswith("---\n\n:gray[")]
    assert len(loose) == 1 and escape_md(LOOSE_HEADING) in loose[0]
    assert "(#open-k-means)" in loose[0] and "(#open-regularization)" in loose[0]
    assert any(c.value.startswith("1 question and 2 loosely related, answered in") for c in at.caption)
    card = cards(at)[0]
    # it opens on the Short answer (no churn, no customer); the Example holds them
    assert ":blue-badge[:material/bookmark: Short answer]" in card
    assert ":violet-badge[:material/format_quote: Matching passage, Example]" in card
    assert "> A :orange-background[churn] model" in card and ":orange-background[customer]" in card


def test_missing_index_gets_built_with_a_progress_bar(app, tmp_path, monkeypatch):
    fresh = tmp_path / "new-index"
    monkeypatch.setenv("MLPREP_INDEX", str(fresh))
    at = app().run()
    assert not at.exception
    assert store.is_fresh(fresh, app.content_dir)
    bars = at.get("progress")
    assert bars and "Index ready" in bars[-1].proto.text
    assert "**3 questions**" in texts(at)


def test_stale_index_is_rebuilt_and_serves_the_new_text(app):
    path = app.content_dir / "roc-auc.md"
    path.write_text(path.read_text().replace("ranks a random positive", "ranks a random zebrafish"))
    assert not store.is_fresh(app.index_dir, app.content_dir)
    at = search(app().run(), "zebrafish")
    assert not at.exception
    assert store.is_fresh(app.index_dir, app.content_dir)
    assert any(":orange-background[zebrafish]" in m.value for m in at.markdown)


def test_broken_content_shows_file_and_line_while_the_last_good_index_serves(app):
    version = store.current_version(app.index_dir).name
    (app.content_dir / "broken.md").write_text(
        "---\ntitle: Broken\ntopics: [x]\n---\n\n## Short answer\n\nA.\n\n## Examples\n\nB.\n", encoding="utf-8")
    at = search(app().run(), "ROC AUC")
    assert not at.exception
    assert any("keeps serving" in e.value for e in at.error)
    problems = "\n".join(c.value for c in at.code)
    assert "broken.md:10:" in problems and "Examples" in problems
    assert card_titles(at)[0] == escape_md("What does ROC AUC measure?")
    assert store.current_version(app.index_dir).name == version, "nothing was written"


def test_script_in_content_is_shown_as_text(app):
    (app.content_dir / "markup.md").write_text(MARKUP_QUESTION, encoding="utf-8")
    app.build(app.content_dir, app.index_dir)
    at = app(open="markup").run()
    assert not at.exception
    page = texts(at)
    assert escape_md(SCRIPT) in page and SCRIPT not in page
    assert "\\*\\*not bold\\*\\*" in page and "\\:red\\[" in page and "\\$not maths\\$" in page
    assert [m.value for m in at.markdown if m.proto.allow_html] == [PAGE_STYLE_HTML], "only our constant style"
    html_elements = at.get("html")
    assert len(html_elements) == 1 and "markup" not in html_elements[0].proto.body  # only our page script

    at = search(app().run(), "markup script")
    assert SCRIPT not in texts(at) and "\\<" in texts(at)


def test_query_is_never_rendered_as_markup(app):
    at = search(app().run(), "<img src=x onerror=alert(1)> **bold** qqqq")
    assert not at.exception
    assert not re.search(r"(?<!\\)<img", texts(at)) and "\\<img" in texts(at)
    assert [m.value for m in at.markdown if m.proto.allow_html] == [PAGE_STYLE_HTML], "only our constant style"


def test_browse_lists_every_question_by_topic(app):
    at = app(view="Browse").run()
    labels = [b.label for b in at.button if b.key and b.key.startswith("browse-")]
    assert len(labels) == 4  # k-means is under two topics
    next(b for b in at.button if b.key == "browse-evaluation-roc-auc").click().run()
    assert at.query_params["open"] in ("roc-auc", ["roc-auc"])


def test_topic_map_renders_every_question(app):
    at = app(view="Topic map").run()
    assert not at.exception
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1
    assert "roc-auc" in charts[0].proto.spec or any("roc-auc" in str(d) for d in charts[0].proto.datasets)


def test_revision_sheet_offers_both_downloads(app):
    at = app(view="Revision sheet").run()
    assert not at.exception
    downloads = at.get("download_button")
    assert len(downloads) == 2
    sheet = next(m.value for m in at.markdown if m.value.startswith("#### "))
    assert sheet.count("#### ") == 3


def test_sidebar_shows_model_bank_and_rebuild(app):
    at = app().run()
    side = "\n".join(m.value for m in at.sidebar.markdown)
    assert "fake\\-bow" in side and "3 questions" in side and "Built" in side
    next(b for b in at.sidebar.button if b.label == "Rebuild index").click().run()
    assert not at.exception
    assert any(m.value.startswith("Index ready") for m in at.sidebar.success)


def test_search_timings_are_shown_after_a_query(app):
    at = search(app().run(), "k-means clustering")
    assert any("Server-side search time" in c.value for c in at.sidebar.caption)


# --------------------------------------------------------------------------- ui helpers
def _question(qid, title, short, topics=("t",)):
    return Question(qid, title, tuple(topics), (), f"{qid}.md", (Section("short", "Short answer", short),))


def test_escape_md_neutralises_markdown_html_maths_and_directives():
    raw = "<script>x</script> **b** $m$ :red[r] :smile: [l](u) # h\n  1. item"
    escaped = escape_md(raw)
    for dangerous in ("<script>", "**b**", "$m$", ":red[", ":smile:", "[l](u)"):
        assert dangerous not in escaped
    assert escaped.replace("\\", "").replace("  \n", "\n") == "<script>x</script> **b** $m$ :red[r] :smile: [l](u) # h\n1. item"


def test_highlight_marks_whole_words_only_and_escapes_the_rest():
    out = highlight("AUC <b>because</b> cross-validation", ["auc", "cross", "validation"])
    assert out.startswith(":orange-background[AUC]")
    assert "be:orange" not in out and "\\<b\\>" in out
    assert ":orange-background[cross\\-validation]" in out


def test_card_markdown_escapes_everything_and_links_open_and_more():
    card = Card(question_id="a-b", title="<b>T</b> [x](y)", heading="Short answer", text="AUC :red[no] $m$",
                terms=frozenset({"auc"}), why="Why: **w**", others=(("Example", "<i>e</i> auc"),))
    closed = card_markdown(card, expanded=False)
    assert closed.startswith("#### \\<b\\>T\\<\\/b\\> \\[x\\]\\(y\\)\n\n")
    assert ":orange-background[AUC] \\:red\\[no\\] \\$m\\$" in closed and "\\*\\*w\\*\\*" in closed
    assert "](#open-a-b)" in closed and "[The other sections\\: Example](#more-a-b)" in closed
    assert "\\<i\\>" not in closed, "the other sections are sent only once opened"
    opened = card_markdown(card, expanded=True)
    assert "[Hide the other sections](#more-a-b)" in opened
    assert opened.endswith("**Example**  \n\\<i\\>e\\<\\/i\\> :orange-background[auc]")
    odd = card_markdown(Card("x)(y z", "T", "H", "t", frozenset(), "w", ()), expanded=False)
    assert "(#open-x%29%28y%20z)" in odd and "#more-" not in odd, "the id cannot end the link early"


def test_passage_loose_corrected_and_topic_markdown_escape_what_they_show():
    card = Card(question_id="q", title="T", heading="Short answer", text="t", terms=frozenset(), why="w",
                others=(), passage=("Explanation", "In *cancer* screening <b>x</b>", frozenset({"cancer"})))
    md = card_markdown(card, expanded=False)
    assert ":violet-badge[:material/format_quote: Matching passage, Explanation]\n\n> In \\*:orange-background" \
           "[cancer]\\* screening \\<b\\>x\\<\\/b\\>" in md
    assert md.index("Matching passage") < md.index(":gray[:small[w]]")
    loose = loose_markdown([Card("a)b", "<i>T</i>", "H", "t", frozenset(), "Why: 0.08", ())])
    assert loose.startswith("---\n\n:gray[") and "- :small[[\\<i\\>T\\<\\/i\\>](#open-a%29b)]" in loose
    assert "\\<i\\>" in loose and "<i>" not in loose
    assert corrected_markdown("a *b*", "a [c](d)") == \
        "Showing results for **a \\*b\\*** · Search instead for [a \\[c\\]\\(d\\)](#typed-a%20%5Bc%5D%28d%29)"
    assert topic_links_markdown(["a b", "<x>"]) == "[a b](#topic-a%20b) · [\\<x\\>](#topic-%3Cx%3E)"


def test_why_matched_names_words_and_meaning():
    from index.model import Hit

    hit = Hit("a#short", "a", "A?", "short", "Short answer", "t", 1.0, 0.62, 3.1, 1, 2, ("auc", "roc"))
    line = why_matched(hit)
    assert "auc, roc" in line and "similarity 0.62" in line and "very close in meaning" in line
    assert "#" not in line and "by words" not in line, "plain language, not ranks"


def test_example_queries_come_from_the_bank():
    qs = [Question("b", "B?", ("t",), ("gbm",), "b.md", ()), Question("a", "A?", ("t",), ("rf",), "a.md", ())]
    assert example_queries(qs, n=2) == ["what is rf", "example of gbm"]


def test_revision_sheet_escapes_content_in_html_and_markdown():
    qs = [_question("x", "Is <b>this</b> safe?", f"Yes: {SCRIPT} & more")]
    html = revision.revision_html(qs)
    assert SCRIPT not in html and "&lt;script&gt;" in html and "&amp; more" in html
    md = revision.revision_markdown(qs)
    assert "\\<script\\>" in md and "## Is \\<b\\>this\\</b\\> safe?" in md
    screen = revision.revision_markdown(qs, for_screen=True)
    assert "\\:" in screen


def test_project_2d_is_deterministic_and_keeps_neighbours_close():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 5
    vectors = np.vstack([c + rng.normal(scale=0.1, size=(4, 16)) for c in centres])
    points = topicmap.project_2d(vectors)
    assert points.shape == (12, 2)
    assert np.allclose(points, topicmap.project_2d(vectors))
    within = np.linalg.norm(points[0] - points[1])
    across = min(np.linalg.norm(points[0] - points[j]) for j in range(4, 12))
    assert within < across
    assert topicmap.project_2d(np.ones((1, 4))).shape == (1, 2)
    assert topicmap.project_2d(np.zeros((0, 4))).shape == (0, 2)


def test_map_labels_are_short_titles_placed_clear_of_each_other_and_the_dots():
    assert topicmap.short_title("What is feature leakage, and how do you detect and prevent it?",
                                "feature-leakage") == "Feature leakage"
    assert topicmap.short_title("What is the difference between classification and regression?",
                                "classification-vs-regression") == "Classification vs regression"
    assert topicmap.short_title("What is the difference between batch, stochastic and mini-batch gradient descent?",
                                "gradient-descent-variants") == "Gradient descent variants"
    rng = np.random.default_rng(1)
    points = rng.uniform([0, 0], [320, 220], size=(25, 2))
    boxes = topicmap.place_labels(points, [f"question {i}" for i in range(25)], 320, 220)
    placed = [b for b in boxes if b is not None]
    assert len(placed) >= 10
    assert not [(a, b) for i, a in enumerate(placed) for b in placed[i + 1:] if a.overlaps(b)]
    dots = [topicmap.LabelBox(x - 9, y - 9, 18, 18) for x, y in points]
    assert not [b for b in placed for d in dots if b.overlaps(d)]
    assert all(0 <= b.left and b.left + b.width <= 320 and 0 <= b.top and b.top + b.height <= 220 for b in placed)
    assert len(set(topicmap.PALETTE)) == len(topicmap.PALETTE) == len(set(topicmap.SHAPES))
