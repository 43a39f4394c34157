"""python -m ingest [--content DIR] [--index DIR] [--model NAME_OR_PATH] [--quiet]
python -m ingest import FILE [--out DIR]"""

from __future__ import annotations

import argparse
import sys

from index.errors import ContentErrors, SearchToolError
from index.search import DEFAULT_CONTENT, DEFAULT_INDEX


def import_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest import",
                                     description="Import a question export (text or PDF) as draft question files.")
    parser.add_argument("file", help="the export: the seed's text format, or the same layout as a PDF")
    parser.add_argument("--out", default=str(DEFAULT_CONTENT), help="folder to write the drafts to (default: %(default)s)")
    args = parser.parse_args(argv)
    from .importer import import_export

    try:
        report = import_export(args.file, args.out)
    except ContentErrors as exc:
        n = len(exc.errors)
        print("\n".join(map(str, exc.errors)), file=sys.stderr)
        print(f"{n} problem{'s' if n != 1 else ''} in {args.file}; nothing was written", file=sys.stderr)
        return 1
    except SearchToolError as exc:
        print(f"ingest import: {exc}" if "\n" not in str(exc) else str(exc), file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["import"]:
        return import_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m ingest",
                                     description="Validate the question bank and build the search index.")
    parser.add_argument("--content", default=str(DEFAULT_CONTENT), help="folder of question files (default: %(default)s)")
    parser.add_argument("--index", default=str(DEFAULT_INDEX), help="index folder to write (default: %(default)s)")
    parser.add_argument("--model", default=None,
                        help="sentence-transformers model name or folder, e.g. all-MiniLM-L6-v2 for small machines; "
                             "remembered by the index, so a later build without --model keeps it; `--model default` "
                             "follows the default (all-mpnet-base-v2) again")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    from .build import build

    try:
        # the one line that says why the whole bank is embedded again (only once the content is valid)
        report = build(args.content, args.index, model=args.model, progress=not args.quiet,
                       announce=lambda line: print(line, file=sys.stderr))
    except SearchToolError as exc:
        print(f"ingest: {exc}" if "\n" not in str(exc) else str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ingest: interrupted; the index is unchanged", file=sys.stderr)
        return 130
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
