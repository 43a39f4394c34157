"""Our own constant script and style for the page (never content): focus, browser history, scroll, highlights.

Streamlit writes bound widgets (the query, the filters, the view) into the URL by replacing the history entry, and
`st.query_params` changes (opening a question) as new entries. Left alone, Back then skips the landing page and
filter changes, and a question opened from low on the page keeps the old scroll position. The script below:
- focuses the search box on first load unless the user is elsewhere (looking again every 50 ms for up to 10 s,
  since the box may reach the page after the script);
- gives a new search, a filter, a view or a question its own history entry, while typing on replaces the entry
  (no half-typed `?q=gradient+` entries) and an unchanged URL adds none; Back and Forward are left to Streamlit;
- turns a move to the URL of the entry just before this one (the question page's own Back, returning to the
  question it came from) into the browser's Back, so that the two Backs walk the same history;
- scrolls to the top when a question opens, so its title is on screen (again over two seconds while it is drawn,
  unless the user scrolls first).

The style (highlights without side padding, a topic map that scrolls sideways on a phone) is the page's first
element (`PAGE_STYLE_HTML`), not something the script adds later: results are never drawn before it.
"""

from __future__ import annotations

SEARCH_LABEL = "Search the question bank"
PAGE_ICON = "🎓"  # an emoji: a Material icon here is fetched from a font CDN, which an offline tool must not do
SETTLED_MS = 2000  # a query left alone this long is a search of its own: the next one gets a new history entry

# Streamlit pads highlighted text on both sides, which reads as stray spaces: "( data leakage )".
# The topic map is drawn at a fixed size (its labels are placed for it): on a phone it scrolls sideways, not clipped.
PAGE_STYLE = (".stMarkdownColoredBackground { padding-left: 0 !important; padding-right: 0 !important; } "
              '[data-testid="stVegaLiteChart"] { overflow-x: auto; max-width: 100%; }')

PAGE_STYLE_HTML = f"<style>{PAGE_STYLE}</style>"

PAGE_SCRIPT = f"""<script>
(() => {{
  if (window.__mlprepPage) return;  // a whole-page rerun may run this again: patch once
  window.__mlprepPage = true;
  const started = Date.now();
  const focusBox = () => {{
    const box = document.querySelector('input[aria-label="{SEARCH_LABEL}"]');
    if (box) {{
      if (document.activeElement === null || document.activeElement === document.body) box.focus();
    }} else if (Date.now() - started < 10000) {{
      setTimeout(focusBox, 50);
    }}
  }};
  focusBox();

  const push = history.pushState.bind(history), replace = history.replaceState.bind(history);
  let navigatedAt = 0, queryAt = 0;
  // this tab's entries since the page loaded (their URLs) and which one is shown
  let entries = [location.href], at = 0;
  window.addEventListener('popstate', () => {{
    navigatedAt = Date.now(); queryAt = 0;
    if (entries[at - 1] === location.href) at -= 1;
    else if (entries[at + 1] === location.href) at += 1;
    else {{ entries = [location.href]; at = 0; }}
  }});
  // The question is drawn some time after its URL is set (longer on a busy server): scroll again a few times
  // over two seconds, unless the user scrolls or types first.
  const toTop = () => {{
    let mine = true;
    const yours = () => {{ mine = false; }};
    for (const kind of ['wheel', 'touchstart', 'keydown']) {{
      window.addEventListener(kind, yours, {{once: true, passive: true}});
    }}
    for (const delay of [0, 150, 400, 800, 1300, 2000]) setTimeout(() => {{
      if (!mine) return;
      document.querySelector('[data-testid="stMain"]')?.scrollTo(0, 0);
      window.scrollTo(0, 0);
    }}, delay);
  }};
  const route = (state, title, url, asked) => {{
    if (url === undefined || url === null) return asked(state, title, url);
    const next = new URL(url, location.href);
    if (next.href === location.href) return;
    if (Date.now() - navigatedAt < 2000) {{  // Streamlit settling after Back
      entries[at] = next.href;
      return replace(state, title, url);
    }}
    const was = new URLSearchParams(location.search), now = next.searchParams;
    const keys = [...new Set([...was.keys(), ...now.keys()])];
    const changed = keys.filter((k) => was.getAll(k).join('\\n') !== now.getAll(k).join('\\n'));
    let add = true;
    if (changed.length === 1 && changed[0] === 'q') {{
      add = Date.now() - queryAt > {SETTLED_MS};
      queryAt = Date.now();
    }}
    if (add && at > 0 && entries[at - 1] === next.href) {{
      history.back();  // the same place as the entry before: go back to it rather than add a copy
      return;
    }}
    (add ? push : replace)(state, title, url);
    if (add) {{ entries = entries.slice(0, at + 1).concat([next.href]); at += 1; }} else entries[at] = next.href;
    if (changed.includes('open') && now.get('open')) toTop();
  }};
  history.pushState = (state, title, url) => route(state, title, url, push);
  history.replaceState = (state, title, url) => route(state, title, url, replace);
}})();
</script>"""
