"""The index's state as the app sees it on start: missing, stale, fresh, and whether the content is valid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from index import store
from index.errors import ContentError, ContentErrors, SearchToolError


@dataclass(frozen=True)
class IndexState:
    exists: bool  # a readable live version is there (it can serve, fresh or not)
    fresh: bool  # it matches the content folder
    errors: tuple[ContentError, ...]  # problems in the content folder (nothing can be built while there are any)
    model: str | None  # the model the live version was built with (a rebuild keeps it)


def index_state(index_dir: Path, content_dir: Path) -> IndexState:
    """Look at the index folder and the content folder without loading vectors or the model."""
    try:
        version = store.current_version(index_dir)
        manifest = store.read_manifest(version, index_dir)
        exists = True
        model = manifest.get("model", {}).get("source")
    except SearchToolError:
        exists, model = False, None
    fresh = exists and store.is_fresh(index_dir, content_dir)
    errors: tuple[ContentError, ...] = ()
    if not fresh:
        from ingest.content import load_bank

        try:
            load_bank(content_dir)
        except ContentErrors as exc:
            errors = tuple(exc.errors)
    return IndexState(exists, fresh, errors, model)


def built_at(manifest: dict) -> str:
    """The build time as 'YYYY-MM-DD HH:MM UTC' (or what the manifest says, if it is in another form)."""
    raw = str(manifest.get("built_at", ""))
    if len(raw) >= 16 and raw[10] == "T":
        return f"{raw[:10]} {raw[11:16]} UTC"
    return raw or "unknown"
