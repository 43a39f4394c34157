"""The result cards' links, turned into actions without a page load.

A results page is one Markdown block (`ui.render.cards_markdown`): a card's "Open this question" is a link to
`#open-<id>`, its "The other sections" a link to `#more-<id>`, a repaired query's "search instead for …" a link
to `#typed-<query>`, and a topic (on the empty page and the no-close-match page) a link to `#topic-<topic>`
(in-page anchors, so following one never loads the page: a page load would start a new session). The small script below (our own constant code, never content) is
registered as a Streamlit component that draws nothing: it listens on the page for plain clicks on those links (a
mouse click, or Enter on a focused link) and reports them to the server as a trigger, so the session and its
state stay. Streamlit mounts it a moment after a new session's first results are drawn; a link followed in that
moment leaves its anchor in the URL, which the script acts on once it runs.

The component is the first element of the page body's fragment, so a click reruns only that part, as typing
does.
"""

from __future__ import annotations

import streamlit as st

from .navigation import browse_topic, open_question, search_as_typed
from .render import MORE_ANCHOR, OPEN_ANCHOR, TOPIC_ANCHOR, TYPED_ANCHOR, topic_links_markdown

KEY = "card-links"
EXPANDED = "cards-expanded"  # session key: ids of the cards whose other sections are shown
SHOWN_TOPICS = "topic-links"  # session key: the topics this session was last shown as links
# (anchor prefix, trigger name) of every link the script acts on
_LINKS = ((OPEN_ANCHOR, "open"), (MORE_ANCHOR, "more"), (TYPED_ANCHOR, "typed"), (TOPIC_ANCHOR, "topic"))
_PREFIXES = ", ".join(f"['#{prefix}', '{name}']" for prefix, name in _LINKS)
_SELECTOR = ", ".join(f'a[href^="#{prefix}"]' for prefix, _ in _LINKS)

_JS = f"""
export default function (component) {{
  window.__mlprepCardLink = component.setTriggerValue;  // the latest mount's: a whole-page run mounts it again
  const act = (hash) => {{
    for (const [prefix, name] of [{_PREFIXES}]) {{
      if (hash.startsWith(prefix)) {{
        window.__mlprepCardLink(name, decodeURIComponent(hash.slice(prefix.length)));
        return true;
      }}
    }}
    return false;
  }};
  // A link followed before this ran (a new session draws the results first) left its anchor in the URL: act on
  // it now and take it off, through the unpatched replaceState (ui/page.py's would add a history entry).
  if (act(location.hash)) History.prototype.replaceState.call(history, history.state, '', location.pathname + location.search);
  if (window.__mlprepCardLinks) return;
  window.__mlprepCardLinks = true;
  document.addEventListener('click', (event) => {{
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest && event.target.closest('{_SELECTOR}');
    if (!link || !link.closest('[data-testid="stMain"]')) return;
    event.preventDefault();
    act(link.getAttribute('href'));
  }}, true);
}}
"""

# It draws nothing: its place on the page takes no room (no gap above the search box).
_CSS = f".st-key-{KEY} {{ display: none; }}"

_component = st.components.v2.component("mlprep_card_links", js=_JS, css=_CSS, isolate_styles=False)


def _toggle_sections(question_id: str) -> None:
    st.session_state[EXPANDED] = set(st.session_state.get(EXPANDED, ())) ^ {question_id}


def _browse_shown_topic(topic: str) -> None:
    if topic in st.session_state.get(SHOWN_TOPICS, ()):  # only a topic the page offered (the URL can say anything)
        browse_topic(topic)


_ACTIONS = {"open": open_question, "more": _toggle_sections, "typed": search_as_typed, "topic": _browse_shown_topic}


def _on(name: str):
    """The callback of one trigger: its action on the link's text, when the text is a non-empty string."""
    def act() -> None:
        value = st.session_state[KEY][name]
        if isinstance(value, str) and value:
            _ACTIONS[name](value)
    return act


def card_links() -> None:
    """Mount the link listener (draws nothing)."""
    _component(key=KEY, height=0, **{f"on_{name}_change": _on(name) for _, name in _LINKS})


def topic_links(topics) -> str:
    """Markdown links that browse each topic; the topics are remembered, so that only a shown one is acted on."""
    st.session_state[SHOWN_TOPICS] = list(topics)
    return topic_links_markdown(topics)


def expanded_cards() -> set[str]:
    """Ids of the cards whose other sections the user opened."""
    return set(st.session_state.get(EXPANDED, ()))
