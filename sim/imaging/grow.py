"""Grow-from-seeds with several labels: every voxel of a box goes to the label whose seeds it
is nearest to along the image, geodesically.

Each label's seeds spread over the 6-connected voxel graph; stepping from one voxel to the
next costs the change in (lightly smoothed) intensity plus a small length term, so a region
floods a uniform structure and stops at its edges, where the competing labels' fronts meet it
(geodesic competitive region growing; the distances are scipy's Dijkstra from all of a
label's seeds at once). A label other than the last (the background) spreads only over
intensities near those under its seeds, so a soft-tissue cord cannot run into the bone round
it, nor a vertebra into the soft tissue beside it. The labels are then smoothed (a Gaussian of
each label's indicator, the largest wins), which removes one-voxel spikes along the borders.

Measured against TotalSegmentator's spinal cord and vertebrae on its example CT (3 mm voxels,
25 scattered seed voxels per structure): Dice 0.79-0.89, where the marker watershed on the
gradient this replaces gave 0.56-0.70 (tests/sim/imaging/test_segment_edit.py).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

SMOOTH_MM = 1.5  # intensity smoothing before the distances (noise would make every step cost)
STEP_COST = 3.0  # intensity units per mm of path: a tie between seeds goes to the nearer one
RANGE_WIDEN = 1.0  # a label spreads over its seeds' 2-98 % intensity range widened by this x the range
RESULT_SMOOTH_MM = 2.0  # Gaussian (sigma) over each label's indicator before the vote


def _edges(shape: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(first voxel, second voxel, axis) of every 6-connected neighbour pair, flat indices."""
    index = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    out = []
    for axis in range(3):
        n = shape[axis]
        a = np.take(index, np.arange(0, n - 1), axis=axis).ravel()
        b = np.take(index, np.arange(1, n), axis=axis).ravel()
        out.append((a, b, axis))
    return out


def grow_labels(values: np.ndarray, markers: np.ndarray, spacing: tuple[float, float, float], *,
                smooth_mm: float = SMOOTH_MM, result_smooth_mm: float = RESULT_SMOOTH_MM) -> np.ndarray:
    """Labels 1..K for every voxel of ``values`` (a 3D intensity box) grown from ``markers``
    (same shape: 0 unseeded, k the seeds of label k; the last label K is the background, which
    may spread over any intensity)."""
    if values.ndim != 3 or values.shape != markers.shape:
        raise ValueError("values and markers must be 3D arrays of one shape")
    spacing_arr = np.asarray(spacing, dtype=float)
    image = values.astype(np.float32)
    if smooth_mm > 0:
        image = ndimage.gaussian_filter(image, smooth_mm / spacing_arr)
    flat, seeds = image.ravel(), markers.ravel()
    count = int(seeds.max())
    pairs = [(a, b, np.abs(flat[a] - flat[b]) + STEP_COST * spacing_arr[axis])
             for a, b, axis in _edges(image.shape)]
    distance = np.full((count, flat.size), np.inf, dtype=np.float64)
    for k in range(1, count + 1):
        mine = seeds == k
        if not mine.any():
            continue
        allowed = np.ones(flat.size, dtype=bool)
        if k < count:  # the background spreads anywhere
            lo, hi = np.percentile(flat[mine], [2, 98])
            widen = RANGE_WIDEN * (hi - lo)
            allowed = ((flat >= lo - widen) & (flat <= hi + widen)) | mine
        keep = [allowed[a] & allowed[b] for a, b, _ in pairs]
        graph = sparse.csr_matrix(
            (np.concatenate([w[m] for (_, _, w), m in zip(pairs, keep, strict=True)]),
             (np.concatenate([a[m] for (a, _, _), m in zip(pairs, keep, strict=True)]),
              np.concatenate([b[m] for (_, b, _), m in zip(pairs, keep, strict=True)]))),
            shape=(flat.size, flat.size))
        distance[k - 1] = csgraph.dijkstra(graph, directed=False, indices=np.flatnonzero(mine),
                                           min_only=True)
    labels = (np.argmin(distance, axis=0) + 1).reshape(image.shape)
    if result_smooth_mm > 0:
        sigma = result_smooth_mm / spacing_arr
        best = np.full(image.shape, -1.0, dtype=np.float32)
        voted = np.zeros(image.shape, dtype=labels.dtype)
        for k in range(1, count + 1):  # one label at a time: memory of two boxes, not K
            share = ndimage.gaussian_filter((labels == k).astype(np.float32), sigma)
            win = share > best
            best[win], voted[win] = share[win], k
        labels = voted
    labels[markers > 0] = markers[markers > 0]  # seeds are kept
    return labels
