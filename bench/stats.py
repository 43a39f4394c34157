"""Summary statistics shared by the benchmarks."""

from __future__ import annotations

import numpy as np


def percentile(values, q: float) -> float:
    """The q-th percentile (0-100) of values, linearly interpolated (NumPy's default), as a float."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))
