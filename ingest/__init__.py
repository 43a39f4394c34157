"""Ingest: content/*.md → a verified, atomically published index folder (see ingest.build)."""

from .build import BuildReport, build, chunk
from .content import SECTIONS, load_bank, parse_file

__all__ = ["BuildReport", "SECTIONS", "build", "chunk", "load_bank", "parse_file"]
