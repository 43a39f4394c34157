"""The topic map's picture: question vectors projected to two dimensions, so neighbours on the page are related."""

from __future__ import annotations

import numpy as np


def project_2d(vectors) -> np.ndarray:
    """PCA of the rows of `vectors` onto their first two principal axes, as an (n, 2) float array.

    Deterministic: each axis's sign is fixed so that its largest coordinate is positive. Fewer than three
    rows (or no spread) still give an (n, 2) array.
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        return np.zeros((0, 2))
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = np.zeros((2, x.shape[1]))
    axes[:min(2, len(vt))] = vt[:2]
    points = centred @ axes.T
    for j in range(2):
        col = points[:, j]
        if len(col) and col[np.argmax(np.abs(col))] < 0:
            points[:, j] = -col
    return points
