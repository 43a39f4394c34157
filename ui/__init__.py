"""The app's parts below app.py. Pure helpers that need no Streamlit (tests call them directly): `render` (safe
Markdown), `revision` (the sheet), `practice` (the tally), `topicmap` (the map's projection). Streamlit parts:
`resources` (what a server process shares), `lifecycle` (index freshness and builds), `navigation` (callbacks)
and `views/` (one module per view)."""
