"""Fix what can be fixed in a triangle mesh, say what was done, and never make it worse.

The steps, each checked before it is kept:

1. weld vertices that coincide within ``WELD_TOLERANCE`` of the size. STL exporters leave
   1e-20 mm of noise on coordinates that should be equal, so a shared edge becomes two
   edges and the part looks full of slit-shaped holes. (Filling those slits with
   vtkFillHolesFilter, as the first version did, laid fans over existing faces: new
   non-manifold edges, duplicate faces and inconsistent windings - issue #15, item 7.)
2. drop faces with a repeated vertex; a zero-area sliver whose middle vertex lies on the
   edge of a neighbour (a T-junction) is removed by splitting that neighbour at the vertex;
3. drop duplicate faces;
4. make the winding consistent across manifold edges (the orientation that flips fewest
   faces wins);
5. fill each boundary loop with the minimum-area triangulation that adds no zero-area
   triangle and no edge the mesh already has (a fan around the centroid for very long
   loops); a loop that cannot be filled so is left open and named;
6. make the winding consistent again and turn each closed shell outwards (a cavity inside
   another shell inwards).

After every step the whole mesh is checked (:func:`sim.io.mesh_check.check_mesh`); a step
that raises any defect count (:meth:`MeshReport.defects`) is undone and said so, so the
result is never worse than the input on any count. What is still wrong at the end is listed
in :attr:`RepairResult.remaining`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyvista as pv
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from sim.errors import InputError
from sim.io.mesh_check import (
    DEFECT_NAMES,
    MeshReport,
    check_mesh,
    degenerate_mask,
    duplicate_mask,
    near_coincident,
    triangles_of,
    worse_defects,
)
from sim.progress import Progress, no_progress, sub_progress

DP_LOOP_LIMIT = 150  # longer boundary loops are closed with a centroid fan instead
SLIVER_LIMIT = 20_000  # more zero-area faces than this are not split one by one


@dataclass
class RepairResult:
    mesh: pv.PolyData
    actions: list[str] = field(default_factory=list)
    before: MeshReport | None = None
    after: MeshReport | None = None
    remaining: list[str] = field(default_factory=list)  # problems repair could not fix
    skipped: list[str] = field(default_factory=list)  # steps undone because they made it worse
    notes: list[str] = field(default_factory=list)  # why something could not be fixed

    @property
    def improved(self) -> bool:
        """Some defect count went down (and, by construction, none went up)."""
        a, b = self.before.defects(), self.after.defects()
        return any(a[k] is not None and b[k] is not None and b[k] < a[k] for k in a)

    def comparison(self) -> dict[str, dict[str, int | None]]:
        a, b = self.before.defects(), self.after.defects()
        return {k: {"before": a[k], "after": b[k]} for k in a}


# --- steps -------------------------------------------------------------------------------

def _compact(points: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used, inverse = np.unique(faces, return_inverse=True)
    return points[used], inverse.reshape(-1, 3)


def _weld(points, faces):
    rep = near_coincident(points[np.unique(faces)])
    used = np.unique(faces)
    index = np.full(len(points), -1, dtype=np.int64)
    index[used] = used[rep]
    new_points, new_faces = _compact(points, index[faces])
    merged = len(used) - len(new_points)
    return new_points, new_faces, [f"welded {merged} coincident or near-coincident vertices"] \
        if merged else []


def _repeated_mask(faces: np.ndarray) -> np.ndarray:
    return (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])


def _drop_degenerate(points, faces):
    actions = []
    repeated = _repeated_mask(faces)
    if repeated.any():
        faces = faces[~repeated]
        actions.append(f"removed {int(repeated.sum())} degenerate faces (a corner repeated)")
    slivers = np.nonzero(degenerate_mask(points, faces))[0]
    if len(slivers) and len(slivers) <= SLIVER_LIMIT:
        faces, split, dropped = _split_slivers(points, faces, slivers)
        if split:
            actions.append(f"removed {split} zero-area slivers by splitting their neighbour "
                           "at the sliver's middle vertex")
        if dropped:
            actions.append(f"removed {dropped} zero-area faces")
    return points, faces, actions


def _split_slivers(points, faces, slivers):
    """Remove zero-area triangles (three collinear corners). The middle corner ``v`` lies on
    the long edge ``a-b``; the face on the other side of ``a-b`` is split at ``v`` so that the
    edges ``a-v`` and ``v-b`` stay shared and no hole opens. A sliver on the boundary (no face
    across ``a-b``) whose three edges are all boundary edges is simply dropped."""
    tris = [tuple(int(x) for x in f) for f in faces]
    alive = [True] * len(tris)
    edge_faces: dict[tuple[int, int], set[int]] = {}

    def key(a, b):
        return (a, b) if a < b else (b, a)

    def add(fi):
        for a, b in ((0, 1), (1, 2), (2, 0)):
            edge_faces.setdefault(key(tris[fi][a], tris[fi][b]), set()).add(fi)

    def remove(fi):
        alive[fi] = False
        for a, b in ((0, 1), (1, 2), (2, 0)):
            edge_faces[key(tris[fi][a], tris[fi][b])].discard(fi)

    for fi in range(len(tris)):
        add(fi)
    split = dropped = 0
    pending = [int(s) for s in slivers]
    for _ in range(3):  # a neighbour may be a sliver too: a few passes settle chains
        left = []
        for s in pending:
            if not alive[s]:
                continue
            corners = points[list(tris[s])]
            lengths = [np.linalg.norm(corners[(k + 1) % 3] - corners[k]) for k in range(3)]
            k = int(np.argmax(lengths))
            a, b, v = tris[s][k], tris[s][(k + 1) % 3], tris[s][(k + 2) % 3]
            across = edge_faces.get(key(a, b), set()) - {s}
            if len(across) == 1:
                g = next(iter(across))
                x, y, c = tris[g]
                while {x, y} != {a, b}:
                    x, y, c = y, c, x
                if c == v:
                    left.append(s)
                    continue
                remove(s)
                remove(g)
                for new in ((x, v, c), (v, y, c)):
                    tris.append(new)
                    alive.append(True)
                    add(len(tris) - 1)
                split += 1
            elif not across and all(len(edge_faces.get(key(p, q), ())) == 1
                                    for p, q in ((a, b), (b, v), (v, a))):
                remove(s)
                dropped += 1
            else:
                left.append(s)
        if not left or len(left) == len(pending):
            break
        pending = left
    kept = np.array([t for t, ok in zip(tris, alive, strict=True) if ok], dtype=np.int64)
    return kept.reshape(-1, 3), split, dropped


def _drop_duplicates(points, faces):
    dup = duplicate_mask(faces)
    if not dup.any():
        return points, faces, []
    return points, faces[~dup], [f"removed {int(dup.sum())} duplicate faces"]


def _half_edges(faces: np.ndarray):
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    _, inverse, counts = np.unique(np.sort(directed, axis=1), axis=0, return_inverse=True,
                                   return_counts=True)
    return directed, inverse.ravel(), counts


def _signed_volumes(points, faces) -> np.ndarray:
    a, b, c = points[faces[:, 0]], points[faces[:, 1]], points[faces[:, 2]]
    return np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0


def _ray_crossings(origin: np.ndarray, tri: np.ndarray) -> int:
    """How many triangles (k,3,3) a ray from ``origin`` crosses (Moller-Trumbore)."""
    d = np.array([0.5773502691896258, 0.5773502691896257, 0.5773502691896259])
    d = d + np.array([1.3e-3, -2.9e-3, 1.7e-3])  # off-axis, so it does not graze edges
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    h = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, h)
    ok = np.abs(det) > 1e-300
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - tri[:, 0]
    u = inv * np.einsum("ij,ij->i", s, h)
    q = np.cross(s, e1)
    v = inv * (q @ d)
    t = inv * np.einsum("ij,ij->i", e2, q)
    return int((ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)).sum())


def _orient(points, faces, outward: bool = True):
    """Consistent winding over manifold edges; closed shells turned outwards."""
    n = len(faces)
    directed, inverse, counts = _half_edges(faces)
    face_of = np.repeat(np.arange(n), 3)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    manifold = np.nonzero(counts == 2)[0]
    h1, h2 = order[starts[manifold]], order[starts[manifold] + 1]
    f1, f2 = face_of[h1], face_of[h2]
    same = directed[h1, 0] == directed[h2, 0]  # same direction: the two faces disagree
    # Double cover: node f = face as is, f + n = face flipped; a consistent pair links
    # (f1, f2) and (f1+n, f2+n), a disagreeing one (f1, f2+n) and (f1+n, f2).
    rows = np.concatenate([f1, f1 + n])
    cols = np.concatenate([np.where(same, f2 + n, f2), np.where(same, f2, f2 + n)])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(2 * n, 2 * n))
    _, labels = connected_components(graph, directed=False)
    lab0, lab1 = labels[:n], labels[n:]
    non_orientable = lab0 == lab1
    comp = np.minimum(lab0, lab1)
    other = np.zeros(labels.max() + 1, dtype=np.int64)
    other[comp] = np.maximum(lab0, lab1)
    kept_as_is = np.bincount(comp, weights=(lab0 == comp), minlength=len(other))
    total = np.bincount(comp, minlength=len(other))
    chosen = np.where(2 * kept_as_is >= total, np.arange(len(other)), other)
    flip = (lab0 != chosen[comp]) & ~non_orientable
    faces = faces.copy()
    faces[flip] = faces[flip][:, ::-1]
    actions = [f"flipped {int(flip.sum())} faces to make the winding consistent"] \
        if flip.any() else []
    if not outward:
        return points, faces, actions
    # Closed, orientable shells: turn outwards (or inwards for a cavity inside another shell).
    open_face = np.bincount(face_of, weights=(counts[inverse] != 2), minlength=n) > 0
    bad_comp = np.bincount(comp, weights=open_face | non_orientable, minlength=len(other)) > 0
    shells = [c for c in np.unique(comp) if not bad_comp[c]]
    if not shells:
        return points, faces, actions
    vol = np.bincount(comp, weights=_signed_volumes(points, faces), minlength=len(other))
    turned = 0
    several = len(np.unique(comp)) > 1
    for c in shells:
        expected = 1.0
        if several and len(shells) <= 200:
            # A shell inside an odd number of other surfaces bounds a cavity: normals inwards.
            mine = comp == c
            origin = points[faces[np.argmax(mine)]].mean(axis=0)
            if _ray_crossings(origin, points[faces[~mine]]) % 2:
                expected = -1.0
        if vol[c] * expected < 0:
            sel = comp == c
            faces[sel] = faces[sel][:, ::-1]
            turned += 1
    if turned:
        actions.append(f"turned {turned} closed shell(s) outwards")
    return points, faces, actions


def _boundary_loops(faces: np.ndarray) -> tuple[list[list[int]], int]:
    """Simple cycles of boundary edges, each in the direction its faces traverse it, and the
    number of boundary chains that do not close (their faces disagree about the winding)."""
    directed, inverse, counts = _half_edges(faces)
    edges = directed[counts[inverse] == 1]
    outgoing: dict[int, list[int]] = {}
    for a, b in edges.tolist():
        outgoing.setdefault(a, []).append(b)
    loops: list[list[int]] = []
    dead_ends = 0
    for start in list(outgoing):
        while outgoing.get(start):
            path, pos = [start], {start: 0}
            v = start
            while True:
                nxt = outgoing.get(v)
                if not nxt:
                    if len(path) > 1:
                        dead_ends += 1
                    break
                w = nxt.pop()
                if w in pos:  # closed a cycle: cut it out and go on from w
                    cut = pos[w]
                    loops.append(path[cut:])
                    for u in path[cut + 1:]:
                        del pos[u]
                    del path[cut + 1:]
                    v = w
                    if len(path) == 1 and not outgoing.get(w):
                        break
                else:
                    pos[w] = len(path)
                    path.append(w)
                    v = w
    return loops, dead_ends


def _patch_min_area(p: np.ndarray, loop: list[int], forbidden: set, eps_area: float):
    """Minimum-area triangulation of a loop (Barequet-Sharir dynamic programme) without
    zero-area triangles or any diagonal in ``forbidden``; None if there is none."""
    k = len(loop)
    w = np.full((k, k), np.inf)
    best = np.zeros((k, k), dtype=np.int64)
    for i in range(k - 1):
        w[i, i + 1] = 0.0
    for d in range(2, k):
        for i in range(0, k - d):
            j = i + d
            if not (i == 0 and j == k - 1):
                a, b = loop[i], loop[j]
                if ((a, b) if a < b else (b, a)) in forbidden:
                    continue
            m = np.arange(i + 1, j)
            area = 0.5 * np.linalg.norm(np.cross(p[m] - p[i], p[j] - p[i]), axis=1)
            area[area <= eps_area] = np.inf
            total = w[i, m] + w[m, j] + area
            t = int(np.argmin(total))
            if np.isfinite(total[t]):
                w[i, j], best[i, j] = total[t], m[t]
    if not np.isfinite(w[0, k - 1]):
        return None
    tris, stack = [], [(0, k - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        m = int(best[i, j])
        tris.append((loop[i], loop[j], loop[m]))  # reverses the loop's direction: consistent
        stack += [(i, m), (m, j)]
    return tris


def _fill_holes(points, faces):
    loops, dead_ends = _boundary_loops(faces)
    notes = []
    if dead_ends:
        notes.append(f"{dead_ends} boundary chain(s) do not close into a loop (the faces "
                     "along them disagree about the winding), so they were left open")
    if not loops:
        return points, faces, [], notes
    scale = float(np.ptp(points, axis=0).max())
    eps_area = 1e-9 * scale * scale
    forbidden = {(a, b) if a < b else (b, a) for a, b in
                 np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1).tolist()}
    new_points = [points]
    n_points = len(points)
    patches, filled, unfilled = [], 0, 0
    for loop in loops:
        tris = None
        if len(loop) <= DP_LOOP_LIMIT:
            tris = _patch_min_area(points[loop], loop, forbidden, eps_area)
        else:
            centre = points[loop].mean(axis=0)
            fan = [(n_points, loop[(i + 1) % len(loop)], loop[i]) for i in range(len(loop))]
            corners = np.vstack([points, centre[None]])[np.asarray(fan)]
            areas = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0],
                                                  corners[:, 2] - corners[:, 0]), axis=1)
            if (areas > eps_area).all():
                tris = fan
                new_points.append(centre[None])
                n_points += 1
        if tris is None:
            unfilled += 1
            continue
        for a, b, c in tris:
            for u, v in ((a, b), (b, c), (c, a)):
                forbidden.add((u, v) if u < v else (v, u))
        patches.extend(tris)
        filled += 1
    if unfilled:
        notes.append(f"{unfilled} hole(s) could not be closed without a zero-area triangle or "
                     "an edge the mesh already has (slits or holes pinched at a vertex)")
    if not patches:
        return points, faces, [], notes
    faces = np.vstack([faces, np.asarray(patches, dtype=np.int64)])
    return np.vstack(new_points), faces, \
        [f"filled holes: {filled} loop(s) closed with {len(patches)} new faces"], notes


# --- driver ------------------------------------------------------------------------------

def _remaining(report: MeshReport) -> list[str]:
    out = []
    for name, count in report.defects().items():
        if name == "inverted":
            if count:
                out.append("the closed surface points inwards")
        elif count:
            out.append(f"{count} {DEFECT_NAMES[name]}")
    if report.self_intersections is None:
        out.append("self-intersections were not tested (the mesh is too large)")
    return out


def repair_mesh(data: pv.DataSet, progress: Progress = no_progress,
                fill_holes: bool = True) -> RepairResult:
    """Repair the triangulated surface of ``data`` (see the module notes); the result is
    never worse than the input on any defect count."""
    points, faces = triangles_of(data)
    if not len(faces):
        raise InputError("The mesh has no triangles to repair.")
    steps = [("welding vertices", _weld), ("removing degenerate faces", _drop_degenerate),
             ("removing duplicate faces", _drop_duplicates),
             ("making the winding consistent", lambda p, f: _orient(p, f, outward=False))]
    if fill_holes:
        steps.append(("filling holes", _fill_holes))
    steps.append(("orienting the normals", _orient))
    share = 1.0 / (len(steps) + 1)
    before = check_mesh(data, sub_progress(progress, 0.0, share))
    current = before
    actions: list[str] = []
    skipped: list[str] = []
    notes: list[str] = []
    for index, (label, step) in enumerate(steps, start=1):
        progress(index * share, label[:1].upper() + label[1:])
        if current.ok:
            break
        out = step(points, faces)
        new_points, new_faces, done = out[:3]
        step_notes = out[3] if len(out) > 3 else []
        if not done:
            notes.extend(step_notes)
            continue
        if not len(new_faces):
            skipped.append(f"{label} was undone: nothing would be left of the mesh")
            continue
        candidate = pv.PolyData.from_regular_faces(new_points, new_faces)
        report = check_mesh(candidate, sub_progress(progress, index * share,
                                                    (index + 1) * share))
        worse = worse_defects(current, report)
        if worse:
            why = ", ".join(f"{DEFECT_NAMES[k]} {a} -> {b}" for k, (a, b) in worse.items())
            skipped.append(f"{label} was undone because it made the mesh worse ({why})")
            continue
        points, faces, current = new_points, new_faces, report
        actions.extend(done)
        notes.extend(step_notes)
    progress(1.0, "Mesh repaired")
    mesh = pv.PolyData.from_regular_faces(points, faces)
    if not actions:
        actions = ["nothing needed fixing"] if before.ok else ["nothing could be fixed"]
    return RepairResult(mesh, actions, before, current,
                        _remaining(current), skipped, notes)
