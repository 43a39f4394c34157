"""The keyboard on the answer check and the rating buttons: our own constant script (never content).

- Ctrl+Enter (⌘+Enter on a Mac) in an answer box checks the answer: it presses the box's own "Check my answer"
  button once Streamlit has taken the text (which it does on that same key).
- 1, 2, 3, 4 press Again, Hard, Good, Easy when the rating buttons are on the page and the focus is not in a
  text box (so that typing "3" in an answer never rates it).
The page says so beside the buttons (HINT_BEFORE, HINT_RATE).
"""

from __future__ import annotations

from .practice import RATINGS

HINT_BEFORE = "Keyboard: Ctrl+Enter in the box checks your answer."
HINT_RATE = ("Keyboard: " + ", ".join(f"{k} {r.title()}" for k, r in enumerate(RATINGS, 1))
             + " (when you are not typing in a box); Ctrl+Enter in the box checks your answer.")
COMMIT_MS = 120  # Streamlit sends the box's text on Ctrl+Enter; the check is pressed just after

KEYS_SCRIPT = f"""<script>
(() => {{
  if (window.__mlprepKeys) return;  // a whole-page rerun may run this again: listen once
  window.__mlprepKeys = true;
  const ratings = {list(RATINGS)!r};
  const typing = (el) => !!el && (el.tagName === 'TEXTAREA' || el.isContentEditable ||
    (el.tagName === 'INPUT' && !['button', 'checkbox', 'radio', 'range'].includes(el.type)));
  const press = (selector) => {{
    const button = document.querySelector(selector + ' button');
    if (button && !button.disabled) {{ button.click(); return true; }}
    return false;
  }};
  document.addEventListener('keydown', (e) => {{
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && e.target.tagName === 'TEXTAREA') {{
      const holder = e.target.closest('[class*="st-key-"][class*="-answer"]');
      const key = holder && [...holder.classList].find((c) => c.startsWith('st-key-') && c.endsWith('-answer'));
      if (key) setTimeout(() => press('.' + key.slice(0, -'-answer'.length) + '-check'), {COMMIT_MS});
      return;
    }}
    if (e.repeat || e.ctrlKey || e.metaKey || e.altKey || typing(document.activeElement)) return;
    const k = '1234'.indexOf(e.key);
    if (k >= 0 && press('.st-key-rate-' + ratings[k])) e.preventDefault();
  }}, true);
}})();
</script>"""
