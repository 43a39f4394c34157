"""Presentation helpers for app.py that need no Streamlit: safe Markdown, the revision sheet, the practice tally,
the topic map's projection and the index lifecycle check. Tests call them directly."""
