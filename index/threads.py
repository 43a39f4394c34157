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
_controller = None  # threadpoolctl's view of the BLAS libraries, taken once (taking it walks every loaded library)
_blas_limit = None  # the BLAS limit of the queries running now, undone when the last one ends


def _blas():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def single_thread():
    """Run the block with FAISS (OpenMP, this thread) and BLAS (process-wide) on one thread.

    Re-entrant and safe for concurrent queries: BLAS is limited while at least one query runs and restored
    when the last one ends; the OpenMP setting is per thread and restored at the end of the block.
    """
    import faiss

    global _active, _blas_limit
    with _lock:
        if _active == 0:
            _blas_limit = _blas().limit(limits=1, user_api="blas")
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
                _blas_limit.restore_original_limits()
                _blas_limit = None
