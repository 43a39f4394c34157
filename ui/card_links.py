"""The result cards' links, turned into actions without a page load.

A results page is one Markdown block (`ui.render.cards_markdown`): a card's "Open this question" is a link to
`#open-<id>` and its "The other sections" a link to `#more-<id>` (in-page anchors, so following one never loads the
page: a page load would start a new session). The small script below (our own constant code, never content) is
registered as a Streamlit component that draws nothing: it listens on the page for plain clicks on those links (a
mouse click, or Enter on a focused link) and reports them to the server as a trigger, so the session and its
state stay. Streamlit mounts it a moment after a new session's first results are drawn; a link followed in that
moment leaves its anchor in the URL, which the script acts on once it runs.

The component is the first element of the page body's fragment, so a click reruns only that part, as typing
does.
"""

from __future__ import annotations

import streamlit as st

from .navigation import open_question
from .render import MORE_ANCHOR, OPEN_ANCHOR

KEY = "card-links"
EXPANDED = "cards-expanded"  # session key: ids of the cards whose other sections are shown

_JS = f"""
export default function (component) {{
  window.__mlprepCardLink = component.setTriggerValue;  // the latest mount's: a whole-page run mounts it again
  const act = (hash) => {{
    for (const [prefix, name] of [['#{OPEN_ANCHOR}', 'open'], ['#{MORE_ANCHOR}', 'more']]) {{
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
    const link = event.target.closest && event.target.closest('a[href^="#{OPEN_ANCHOR}"], a[href^="#{MORE_ANCHOR}"]');
    if (!link || !link.closest('[data-testid="stMain"]')) return;
    event.preventDefault();
    act(link.getAttribute('href'));
  }}, true);
}}
"""

# It draws nothing: its place on the page takes no room (no gap above the search box).
_CSS = f".st-key-{KEY} {{ display: none; }}"

_component = st.components.v2.component("mlprep_card_links", js=_JS, css=_CSS, isolate_styles=False)


def _on_open() -> None:
    question_id = st.session_state[KEY]["open"]
    if isinstance(question_id, str) and question_id:
        open_question(question_id)


def _on_more() -> None:
    question_id = st.session_state[KEY]["more"]
    if isinstance(question_id, str) and question_id:
        expanded = set(st.session_state.get(EXPANDED, ()))
        st.session_state[EXPANDED] = expanded ^ {question_id}


def card_links() -> None:
    """Mount the link listener (draws nothing)."""
    _component(key=KEY, height=0, on_open_change=_on_open, on_more_change=_on_more)


def expanded_cards() -> set[str]:
    """Ids of the cards whose other sections the user opened."""
    return set(st.session_state.get(EXPANDED, ()))
