"""The index's state as the app sees it on start: missing, stale, fresh, and whether the content is valid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from index import store
from index.errors import ContentError, ContentErrors, IndexStale, SearchToolError


@dataclass(frozen=True)
class IndexState:
    exists: bool  # a readable live version is there (it can serve, fresh or not)
    fresh: bool  # it matches the content folder
    errors: tuple[ContentError, ...]  # problems in the content folder (nothing can be built while there are any)
    model: str | None  # the model the live version was built with (a rebuild keeps it)


def index_state(index_dir: Path, content_dir: Path) -> IndexState:
    """Look at the index folder and the content folder without loading vectors or the model."""
    try:
        manifest = store.read_manifest(store.current_version(index_dir), index_dir)
    except SearchToolError:
        manifest = None
    exists, fresh = manifest is not None, False
    if exists:
        try:  # against the manifest just read (store.is_fresh would read it again; this runs on every rerun)
            store.check_fresh(index_dir, manifest, content_dir)
            fresh = True
        except IndexStale:
            pass
    errors: tuple[ContentError, ...] = ()
    if not fresh:
        from ingest.content import load_bank

        try:
            load_bank(content_dir)
        except ContentErrors as exc:
            errors = tuple(exc.errors)
    return IndexState(exists, fresh, errors, manifest.get("model", {}).get("source") if exists else None)


def built_at(raw: str) -> str:
    """The manifest's build time (`Index.built_at`) as 'YYYY-MM-DD HH:MM UTC', or as it is if in another form."""
    raw = str(raw)
    if len(raw) >= 16 and raw[10] == "T":
        return f"{raw[:10]} {raw[11:16]} UTC"
    return raw or "unknown"
