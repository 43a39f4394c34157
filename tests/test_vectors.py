"""The dense leg's FAISS index: exact below the size threshold, IVF + SQ8 above; filters; no -1 rows."""

from pathlib import Path

import numpy as np
import pytest

from index import ann, codes, format, rows as row_io
from index.vectors import DenseField


def unit_rows(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_small_bank_gets_an_exact_index():
    index, spec = ann.build(unit_rows(50))
    assert spec["type"] == "flat"
    assert index.ntotal == 50


def test_vectors_of_more_than_384_dimensions_get_6_bit_codes_that_still_find_their_neighbours(tmp_path):
    x = unit_rows(3000, d=768)
    index, spec = ann.build(x, exact_max=1000)
    assert spec["type"] == "ivf_sq6" and index.code_size == 768 * 6 // 8
    ann.write(index, tmp_path / "s.faiss")
    loaded = ann.read(tmp_path / "s.faiss", spec)
    scores, rows = ann.search(loaded, x[7], 5)
    assert rows[0] == 7 and abs(scores[0] - 1.0) < 0.01
    assert ann.build(unit_rows(3000, d=384), exact_max=1000)[1]["type"] == "ivf_sq8"


def test_large_bank_gets_ivf_with_parameters_in_the_spec(tmp_path):
    x = unit_rows(3000)
    index, spec = ann.build(x, exact_max=1000)
    assert spec["type"] == "ivf_sq8"
    assert spec["nlist"] == ann.ivf_lists(3000)
    assert spec["nprobe"] == min(spec["nlist"], max(ann.IVF_MIN_PROBES, spec["nlist"] // ann.IVF_PROBE_SHARE))
    assert spec["nprobe"] < spec["nlist"]  # approximate: not every list is scanned
    ann.write(index, tmp_path / "s.faiss")
    loaded = ann.read(tmp_path / "s.faiss", spec)
    assert loaded.ntotal == 3000 and loaded.nprobe == spec["nprobe"]
    # every row finds itself first (its own vector is the best inner product)
    for row in (0, 1234, 2999):
        _, rows = ann.search(loaded, x[row], 5)
        assert rows[0] == row


def clustered_rows(n: int, seed: int, d: int = 32, clusters: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = unit_rows(clusters, d, seed=100)
    x = centers[rng.integers(0, clusters, n)] + 0.3 / np.sqrt(d) * rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_recall_against_exact_search():
    # data with neighbourhoods, like real embeddings (uniform random vectors have none)
    x = clustered_rows(4000, seed=1)
    queries = clustered_rows(30, seed=2)
    index, _ = ann.build(x, exact_max=1000)
    exact = np.argsort(-(queries @ x.T), axis=1)[:, :10]
    found = [ann.search(index, q, 10)[1] for q in queries]
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
    assert recall >= 0.9


@pytest.mark.parametrize("n, exact_max", [(40, 1000), (3000, 1000)])
def test_k_larger_than_the_bank_or_filter_never_returns_padding(n, exact_max):
    index, _ = ann.build(unit_rows(n), exact_max=exact_max)
    scores, rows = ann.search(index, unit_rows(1, seed=9)[0], 10_000)
    assert len(rows) == n and (rows >= 0).all() and len(scores) == len(rows)
    allowed = np.array([3, 17, 29])
    scores, rows = ann.search(index, unit_rows(1, seed=9)[0], 50, allowed)
    assert sorted(rows.tolist()) == [3, 17, 29]
    assert np.all(np.diff(scores) <= 1e-6)  # best first


@pytest.mark.parametrize("n, exact_max", [(200, 1000), (3000, 1000)])
def test_filter_keeps_only_allowed_rows(n, exact_max):
    x = unit_rows(n)
    index, _ = ann.build(x, exact_max=exact_max)
    allowed = np.arange(1, n, 7)
    _, rows = ann.search(index, x[0], 20, allowed)
    assert len(rows) == 20 and set(rows.tolist()) <= set(allowed.tolist())
    # row 0 itself is excluded by the filter even though it is the best match
    assert 0 not in rows


def test_empty_filter_returns_nothing():
    index, _ = ann.build(unit_rows(10))
    scores, rows = ann.search(index, unit_rows(1)[0], 5, np.array([], dtype=np.int64))
    assert len(scores) == 0 and len(rows) == 0


def test_ivf_lists_grow_with_the_bank():
    assert ann.ivf_lists(1_000_000) == 1024
    assert ann.ivf_lists(100_000) == 256
    assert ann.ivf_lists(10) == 16


# ---------------------------------------------------------------------------- the search's dense fields
def test_a_field_gets_an_index_only_above_the_threshold():
    index, spec = ann.build_field(unit_rows(50), exact_max=100)
    assert index is None and spec == {"type": "exact"}
    index, spec = ann.build_field(clustered_rows(3000, seed=3), exact_max=1000)
    assert spec["type"] == "ivf_sq8" and index.ntotal == 3000


def test_exact_field_ranks_like_a_full_sort_and_scores_like_a_product():
    x = unit_rows(500)
    q = unit_rows(1, seed=4)[0]
    found = DenseField(x).query(q)
    np.testing.assert_array_equal(found.top(20), np.argsort(-(x @ q), kind="stable")[:20])
    mask = np.zeros(500, dtype=bool)
    mask[::3] = True
    assert set(found.top(20, mask).tolist()) <= set(np.flatnonzero(mask).tolist())
    rows = np.array([7, 3, 499, 3])
    np.testing.assert_array_equal(found.cosines(rows), (x @ q)[rows])


def test_indexed_field_finds_the_exact_neighbours_and_scores_them_exactly():
    x = clustered_rows(4000, seed=5)
    queries = clustered_rows(20, seed=6)
    index, _ = ann.build_field(x, exact_max=1000)
    field = DenseField(x, index)
    recall = []
    for q in queries:
        found = field.query(q)
        rows = found.top(10)
        recall.append(len(set(rows.tolist()) & set(np.argsort(-(x @ q))[:10].tolist())) / 10)
        # cosines come from the float vectors, not the 8-bit codes, in the order asked
        asked = rows[::-1]
        np.testing.assert_allclose(found.cosines(asked), x[asked] @ q, rtol=1e-6, atol=1e-6)
    assert np.mean(recall) >= 0.9
    mask = np.zeros(4000, dtype=bool)
    mask[100:200] = True
    assert set(field.query(queries[0]).top(10, mask).tolist()) <= set(range(100, 200))


def test_mean_rows_is_each_owners_normalized_mean():
    x = unit_rows(6)
    owner = np.array([0, 0, 1, 2, 2, 2])
    out = row_io.mean_rows(x, owner, 3)
    for k in range(3):
        m = x[owner == k].mean(axis=0)
        np.testing.assert_allclose(out[k], m / np.linalg.norm(m), rtol=1e-5, atol=1e-6)


def test_search_with_indexed_fields_answers_like_the_exact_search(fake_index, monkeypatch):
    """Every dense field behind a FAISS index (flat, so exact) and every cosine gathered row by row, as in a
    large bank: the search and related give what the exact NumPy path gives."""
    from index import open_index

    folder, content, embedder = fake_index
    exact = open_index(folder, content_dir=content, embedder=embedder)
    indexed = open_index(folder, content_dir=content, embedder=embedder)
    monkeypatch.setattr(ann, "EXACT_MAX", 0)  # cosines gathered at the candidates' rows, not one full product
    for name in ("titles", "sentences", "related_field"):
        field = getattr(indexed, name)
        setattr(indexed, name, DenseField(field.vectors, ann.build(np.asarray(field.vectors))[0]))
    for query in ("k-means clusters", "regularization penalty", "roc curve threshold", "what is overfitting"):
        a, b = exact.search(query, k=15), indexed.search(query, k=15)
        assert [h.chunk_id for h in a.hits] == [h.chunk_id for h in b.hits]
        np.testing.assert_allclose([h.score for h in a.hits], [h.score for h in b.hits], rtol=1e-5, atol=1e-5)
        assert a.no_close_match == b.no_close_match
    for q in exact.questions:
        assert [r.question_id for r in exact.related(q.id, k=2)] == [r.question_id for r in indexed.related(q.id, k=2)]


def test_a_field_above_its_pq_threshold_gets_compact_codes_and_exact_cosines(tmp_path):
    import faiss

    x = clustered_rows(3000, seed=7, d=96)
    index, spec = ann.build_field(x, exact_max=1000, pq_above=2000)
    assert spec["type"] == "ivf_pq_fastscan" and isinstance(index, faiss.IndexIVFPQFastScan)
    assert index.code_size == ann.IVF_PQ_BYTES  # a vector in 48 bytes (SQ8: one byte a dimension)
    allowed = np.arange(0, 3000, 3)  # a filter (sections or topics) reaches the fast-scan index too
    assert set(ann.search(index, x[1], 20, allowed)[1].tolist()) <= set(allowed.tolist())
    assert ann.build_field(x, exact_max=1000, pq_above=5000)[1]["type"] == "ivf_sq8"
    ann.write(index, tmp_path / "sentences.faiss")
    np.save(tmp_path / "sentences.npy", x, allow_pickle=False)
    field = format.read_field(tmp_path, "sentences", spec)
    assert faiss.extract_index_ivf(field.index).nprobe == spec["nprobe"]
    recall = []
    for q in clustered_rows(10, seed=8, d=96):
        found = field.query(q)
        rows = found.top(50)  # the codes only choose candidates: the true 10 best are among the 50 they propose
        recall.append(len(set(rows.tolist()) & set(np.argsort(-(x @ q))[:10].tolist())) / 10)
        np.testing.assert_allclose(found.cosines(rows), x[rows] @ q, rtol=1e-6, atol=1e-6)  # floats, not codes
    assert np.mean(recall) >= 0.9


@pytest.mark.parametrize("positives", [0, 5, 40, 300])
def test_top_rows_of_a_large_array_is_the_stable_sort(monkeypatch, positives):
    monkeypatch.setattr(ann, "EXACT_MAX", 100)  # the block-maximum path
    monkeypatch.setattr(row_io, "TOP_BLOCK", 8)
    rng = np.random.default_rng(positives)
    scores = np.zeros(2003, dtype=np.float32)  # not a whole number of blocks: the last rows count too
    scores[rng.choice(2003, positives, replace=False)] = rng.integers(1, 6, positives)  # many ties
    scores[-1] = 7 if positives % 2 else scores[-1]
    for n in (1, 10, 40, 100):
        np.testing.assert_array_equal(row_io.top_rows(scores, n), np.argsort(-scores, kind="stable")[:n])
    dense = rng.standard_normal(2003).astype(np.float32).round(1)  # every row scored, ties among them
    for n in (1, 10, 100, 240):
        np.testing.assert_array_equal(row_io.top_rows(dense, n), np.argsort(-dense, kind="stable")[:n])


def _mapped_rss_kb(path) -> int:
    """Resident kB of this process's mappings of `path` (from /proc/self/smaps)."""
    total, inside = 0, False
    for line in open("/proc/self/smaps", encoding="utf-8"):
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line: range perms offset dev inode [path]
            inside = line.rstrip().endswith(str(path))
        elif inside and head[0] == "Rss:":
            total += int(head[1])
    return total


def test_read_rows_gives_the_rows_asked_in_order(tmp_path):
    x = unit_rows(4000, d=384)
    np.save(tmp_path / "v.npy", x, allow_pickle=False)
    mapped = row_io.load_mapped(tmp_path / "v.npy")
    rows = np.array([3999, 0, 1, 2, 1234, 2, 17, 18, 3998])  # runs, repeats and any order
    np.testing.assert_array_equal(row_io.read_rows(mapped, rows), x[rows])
    np.testing.assert_array_equal(row_io.read_rows(mapped[10:], rows[1:4]), x[10:][rows[1:4]])  # a view: indexed
    np.testing.assert_array_equal(row_io.read_rows(x, rows), x[rows])  # in memory
    assert row_io.read_rows(mapped, np.zeros(0, dtype=np.int64)).shape == (0, 384)


def test_read_rows_ascending_rows_are_read_in_place(tmp_path):
    """The search asks for rows in ascending order: runs, gaps, the first and the last row, one row alone."""
    x = unit_rows(4000, d=384)
    np.save(tmp_path / "v.npy", x, allow_pickle=False)
    mapped = row_io.load_mapped(tmp_path / "v.npy")
    for rows in (np.array([0, 1, 2, 3, 4, 700, 701, 1500, 3997, 3998, 3999]), np.array([2500]), np.arange(4000)):
        got = row_io.read_rows(mapped, rows)
        assert got.dtype == np.float32 and got.flags.c_contiguous and got.flags.writeable
        np.testing.assert_array_equal(got, x[rows])


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/smaps"), reason="needs Linux /proc")
def test_read_rows_leaves_no_file_pages_in_the_process(tmp_path):
    """Rows read through the map stay resident (with their neighbours: fault-around); rows read with read_rows
    do not map the file at all."""
    x = unit_rows(4000, d=384)  # 6 MB
    np.save(tmp_path / "v.npy", x, allow_pickle=False)
    rows = np.arange(0, 4000, 40)  # 100 rows, one in every 60 KB
    by_map = row_io.load_mapped(tmp_path / "v.npy")
    np.asarray(by_map[rows]).sum()
    assert _mapped_rss_kb(tmp_path / "v.npy") >= 100 * 4
    del by_map
    by_pread = row_io.load_mapped(tmp_path / "v.npy")
    np.testing.assert_array_equal(row_io.read_rows(by_pread, rows), x[rows])
    assert _mapped_rss_kb(tmp_path / "v.npy") == 0


def _numpy_blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    # NumPy's own BLAS (the one behind the cosines); one loaded later by another package (scipy, torch) is not ours
    return [lib["num_threads"] for lib in [lib for lib in blas if "numpy" in lib["filepath"]] or blas]


def test_a_search_runs_faiss_and_blas_on_one_thread_and_restores_them(fake_index, monkeypatch):
    """Two threads cost more than they save for one query (see index/threads.py), but only for the query: a build
    started in the same process afterwards (the app's Rebuild) gets every thread back."""
    import faiss
    from threadpoolctl import threadpool_limits

    from index import open_index

    folder, content, embedder = fake_index
    idx = open_index(folder, content_dir=content, embedder=embedder)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        with threadpool_limits(2, user_api="blas"):
            seen = []
            real_search = ann.search
            monkeypatch.setattr(ann, "search", lambda *a, **kw: seen.append(
                (faiss.omp_get_max_threads(), _numpy_blas_threads())) or real_search(*a, **kw))
            idx.search("what is overfitting", k=3)
            idx.related(idx.questions[0].id, k=2)
            assert seen and all(omp == 1 and set(blas) == {1} for omp, blas in seen)
            assert faiss.omp_get_max_threads() == 2
            assert set(_numpy_blas_threads()) == {2}
    finally:
        faiss.omp_set_num_threads(before)


def test_question_codes_score_every_row_of_a_question_from_one_block(tmp_path):
    """Codes are laid out question by question (names, sections, sentences); a question's cosines from its block are
    within a few thousandths of the float cosines, whatever order the rows came in."""
    rng = np.random.default_rng(3)
    n_q = 40
    chunk_question = np.repeat(np.arange(n_q), 5)
    sentence_chunk = np.repeat(np.arange(len(chunk_question)), rng.integers(1, 5, len(chunk_question)))
    name_question = np.sort(rng.integers(0, n_q, 3 * n_q))
    name_question[:n_q] = np.arange(n_q)  # every question has a name
    name_question = np.sort(name_question)
    files = {"sections": unit_rows(len(chunk_question), d=64, seed=1),
             "sentences": unit_rows(len(sentence_chunk), d=64, seed=2), "names": unit_rows(len(name_question), d=64, seed=4)}
    spec = format.write_codes(tmp_path, files, chunk_question, sentence_chunk, name_question, n_q, block=37)
    assert spec["rows"] == sum(len(v) for v in files.values())
    codes = format.read_codes(tmp_path, spec, chunk_question, sentence_chunk, name_question, n_q)
    assert codes.codes.dtype == np.uint8 and codes.codes.shape == (spec["rows"], 64)  # a byte a dimension
    q = unit_rows(1, d=64, seed=9)[0]
    questions = np.array([0, 7, 8, 39])
    cos, base = codes.cosines(questions, q)
    for i, question in enumerate(questions):
        block = cos[base[i]:base[i] + codes.block_start[question + 1] - codes.block_start[question]]
        owners = {"names": name_question, "sections": chunk_question, "sentences": chunk_question[sentence_chunk]}
        for field, owner in owners.items():
            rows = np.flatnonzero(owner == question)
            np.testing.assert_allclose(block[codes.at[field][rows]], files[field][rows] @ q, atol=4e-3)
    with pytest.raises(ValueError):  # a layout that does not match the file is refused, not misread
        format.read_codes(tmp_path, spec, chunk_question[:-5], sentence_chunk[sentence_chunk < 195],
                               name_question, n_q)


def test_segment_max_and_top_mean_match_a_loop_over_owners():
    from index.fusion import segment_max, top_mean

    rng = np.random.default_rng(5)
    counts = np.array([3, 0, 1, 7, 2, 0, 4])
    values = rng.random(counts.sum()).astype(np.float32) * 2 - 1
    values[4] = values[5]  # ties
    starts = np.cumsum(counts) - counts
    runs = [values[s:s + c].astype(np.float64) for s, c in zip(starts, counts)]
    np.testing.assert_array_equal(segment_max(values, counts, -1.0),
                                  [max(-1.0, r.max()) if len(r) else -1.0 for r in runs])
    expected = [np.sort(r)[::-1][:3].mean() if len(r) else -1.0 for r in runs]
    np.testing.assert_allclose(top_mean(values, counts, 3), expected, rtol=0, atol=1e-12)
    long = np.concatenate([counts, [400]])  # one owner far longer than the rest: the sort-everything path
    values = np.concatenate([values, rng.random(400).astype(np.float32)])
    np.testing.assert_allclose(top_mean(values, long, 3)[:-1], expected, rtol=0, atol=1e-12)
    assert top_mean(values, long, 3)[-1] == pytest.approx(np.sort(values[-400:].astype(np.float64))[-3:].mean())


def test_search_of_a_bank_with_codes_answers_like_the_float_search(tmp_path, content_dir, fake_embedder, monkeypatch):
    """Above CODES_ABOVE chunks ingest writes the question-major codes and the search scores candidates from them:
    the same hits as the float search of the same bank, scores within a few thousandths."""
    from index import open_index
    from ingest.build import build

    monkeypatch.setattr(codes, "CODES_ABOVE", 0)
    build(content_dir, tmp_path / "index", embedder=fake_embedder)
    coded = open_index(tmp_path / "index", content_dir=content_dir, embedder=fake_embedder)
    assert coded.codes is not None and coded.manifest["codes"]["type"] == "sq8"
    assert (coded.version / "codes.sq8.npy").is_file()
    floats = open_index(tmp_path / "index", content_dir=content_dir, embedder=fake_embedder)
    floats.codes = None
    for query in ("k-means clusters", "regularization penalty", "roc curve threshold", "what is overfitting"):
        a, b = floats.search(query, k=5), coded.search(query, k=5)
        assert [h.chunk_id for h in a.hits][:3] == [h.chunk_id for h in b.hits][:3]
        np.testing.assert_allclose([h.dense_score for h in a.hits[:3]], [h.dense_score for h in b.hits[:3]], atol=5e-3)


def test_open_index_hashes_the_files_queries_read_last(tmp_path, content_dir, fake_embedder, monkeypatch):
    """Hashing reads every file once; when the folder outgrows the page cache, the files read last stay in it, so
    the codes a large bank's queries read are hashed after the float vectors (which those queries do not read)."""
    from index import open_index, store
    from ingest.build import build

    monkeypatch.setattr(codes, "CODES_ABOVE", 0)
    build(content_dir, tmp_path / "index", embedder=fake_embedder)
    hashed = []
    real_sha256 = store.sha256_file
    monkeypatch.setattr(store, "sha256_file", lambda path: hashed.append(Path(path).resolve()) or real_sha256(path))
    idx = open_index(tmp_path / "index", content_dir=content_dir, embedder=fake_embedder)
    version = idx.version.resolve()
    in_version = [p.relative_to(version).as_posix() for p in hashed if version in p.parents]  # not the content files
    assert format.READ_BY_QUERIES == ("codes.sq8.npy",)
    assert in_version[-1] == "codes.sq8.npy" and in_version.index("vectors.npy") < in_version.index("codes.sq8.npy")
    assert sorted(in_version) == sorted(idx.manifest["files"])
