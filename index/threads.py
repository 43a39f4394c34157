"""One thread for FAISS and BLAS while a query runs, and the previous settings back when it ends.

FAISS parallelizes over queries, never within one, and NumPy's matrix-vector products over a query's
candidates are small: on a shared machine a second OpenMP or OpenBLAS thread costs more in
synchronization than it saves (BENCHMARKS.md). A build does the opposite (k-means, adding millions
of rows, embedding), so the limit covers the query only: a rebuild started in the same process after
a search runs with every thread.
"""

from __future__ import annotations

import contextlib
import threading

_lock = threading.Lock()
_active = 0  # queries inside single_thread(), in any thread
_blas = None  # threadpoolctl's controllers of the loaded BLAS libraries, found once (finding them walks every library)
_blas_before: list[int] = []  # their thread counts before the queries running now, restored when the last one ends


def _blas_libraries() -> list:
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _blas


@contextlib.contextmanager
def single_thread():
    """Run the block with FAISS (OpenMP, this thread) and BLAS (process-wide) on one thread.

    Re-entrant and safe for concurrent queries: BLAS is limited while at least one query runs and restored
    when the last one ends; the OpenMP setting is per thread and restored at the end of the block.
    """
    import faiss

    global _active, _blas_before
    with _lock:
        if _active == 0:
            _blas_before = [lib.get_num_threads() for lib in _blas_libraries()]
            for lib, n in zip(_blas_libraries(), _blas_before):
                if n != 1:
                    lib.set_num_threads(1)
        _active += 1
    omp = faiss.omp_get_max_threads()
    if omp != 1:
        faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        if omp != 1:
            faiss.omp_set_num_threads(omp)
        with _lock:
            _active -= 1
            if _active == 0:
                for lib, n in zip(_blas_libraries(), _blas_before):
                    if n != 1:
                        lib.set_num_threads(n)
