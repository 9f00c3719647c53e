"""A synthetic abdominal CT phantom with its label map, in patient LPS millimetres.

The phantom is deterministic (fixed seed) so the demo case and the tests see the
same voxels on every machine. World frame: LPS, +x patient left, +y posterior,
+z superior; the image axes are aligned with LPS (identity direction).

Contents, with Hounsfield-like values:
air -1000, subcutaneous fat -100, soft tissue 40, a liver-like organ 60 on the
patient's right, a branching contrast-filled vessel tree inside it (180), the
aorta (250) left-anterior of the spine, a vertebra (cortex 1000, cancellous
250) with the spinal cord (30) in its canal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv

from sim.progress import Progress, no_progress

if TYPE_CHECKING:
    from sim.model import Case

# Bump when the generated demo changes, so cached copies are regenerated.
DEMO_REVISION = 3

# Label values of the phantom's label map, with display names and colours.
LABELS: dict[int, tuple[str, tuple[float, float, float]]] = {
    1: ("Skin", (0.93, 0.76, 0.65)),
    2: ("Liver", (0.69, 0.26, 0.20)),
    3: ("Hepatic vessels", (0.25, 0.40, 0.85)),
    4: ("Aorta", (0.85, 0.12, 0.12)),
    5: ("Vertebra L1", (0.95, 0.92, 0.80)),
    6: ("Spinal cord", (0.98, 0.85, 0.30)),
}

HU = {"air": -1000.0, "fat": -100.0, "soft": 40.0, "liver": 60.0, "vessel": 180.0,
      "aorta": 250.0, "cortex": 1000.0, "cancellous": 250.0, "cord": 30.0}


@dataclass
class Phantom:
    ct: pv.ImageData  # point scalars "HU" (float32)
    labels: pv.ImageData  # point scalars "label" (uint8)


def _grid(spacing: float) -> tuple[pv.ImageData, np.ndarray, np.ndarray, np.ndarray]:
    lo = np.array([-135.0, -100.0, -60.0])
    hi = np.array([135.0, 110.0, 60.0])
    dims = np.floor((hi - lo) / spacing).astype(int) + 1
    img = pv.ImageData(dimensions=dims, spacing=(spacing,) * 3, origin=lo)
    # VTK point order is x fastest; index arrays as [x, y, z] then flatten in Fortran order.
    x = lo[0] + spacing * np.arange(dims[0])
    y = lo[1] + spacing * np.arange(dims[1])
    z = lo[2] + spacing * np.arange(dims[2])
    return img, x, y, z


def _segment_mask(shape, x, y, z, p0, p1, radius) -> np.ndarray:
    """Voxels within ``radius`` of the segment p0-p1 (a capsule), computed in its bounding box."""
    mask = np.zeros(shape, bool)
    lo = np.minimum(p0, p1) - radius
    hi = np.maximum(p0, p1) + radius
    ix = np.nonzero((x >= lo[0]) & (x <= hi[0]))[0]
    iy = np.nonzero((y >= lo[1]) & (y <= hi[1]))[0]
    iz = np.nonzero((z >= lo[2]) & (z <= hi[2]))[0]
    if not (ix.size and iy.size and iz.size):
        return mask
    X, Y, Z = np.meshgrid(x[ix], y[iy], z[iz], indexing="ij")
    P = np.stack([X, Y, Z], axis=-1)
    d = p1 - p0
    t = np.clip(((P - p0) @ d) / max(float(d @ d), 1e-12), 0.0, 1.0)
    dist = np.linalg.norm(P - (p0 + t[..., None] * d), axis=-1)
    sub = dist <= radius
    mask[np.ix_(ix, iy, iz)] = sub
    return mask


def _vessel_tree(rng: np.random.Generator, root: np.ndarray, direction: np.ndarray,
                 length: float, radius: float, depth: int) -> list[tuple]:
    """Segments (p0, p1, r) of a recursively bifurcating tree."""
    direction = direction / np.linalg.norm(direction)
    end = root + length * direction
    segs = [(root, end, radius)]
    if depth == 0:
        return segs
    # Two children, spread about a random axis perpendicular to the parent.
    perp = np.cross(direction, rng.normal(size=3))
    perp /= np.linalg.norm(perp)
    for sign in (1.0, -1.0):
        child = direction + sign * 0.75 * perp + 0.2 * rng.normal(size=3)
        segs += _vessel_tree(rng, end, child, length * 0.72, radius * 0.72, depth - 1)
    return segs


def make_phantom(spacing: float = 1.25, seed: int = 7, progress: Progress = no_progress) -> Phantom:
    """Generate the phantom CT and its label map (about 3.5 M voxels at 1.25 mm, ~2 s)."""
    rng = np.random.default_rng(seed)
    img, x, y, z = _grid(spacing)
    shape = (x.size, y.size, z.size)
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij", sparse=True)
    hu = np.full(shape, HU["air"], np.float32)
    lab = np.zeros(shape, np.uint8)
    progress(0.05, "Body")

    # Torso: an elliptic cylinder, a 12 mm fat layer under the skin.
    r_torso = ((X - 0.0) / 125.0) ** 2 + ((Y - 5.0) / 100.0) ** 2
    body = np.broadcast_to(r_torso <= 1.0, shape)
    inner = np.broadcast_to(((X / 113.0) ** 2 + ((Y - 5.0) / 88.0) ** 2) <= 1.0, shape)
    hu[body] = HU["fat"]
    hu[inner] = HU["soft"]
    lab[body] = 1

    progress(0.2, "Liver")
    # Liver: a lumpy ellipsoid on the patient's right, flattened posteriorly.
    cx, cy, cz = -48.0, -12.0, 8.0
    u, v, w = (X - cx) / 62.0, (Y - cy) / 50.0, (Z - cz) / 42.0
    lump = 0.08 * np.sin(X / 17.0) * np.cos(Z / 13.0) + 0.06 * np.sin(Y / 11.0 + Z / 19.0)
    liver = (u**2 + v**2 + w**2 + lump <= 1.0) & (Y - cy < 30.0 - 0.25 * (X - cx))
    liver &= inner
    hu[liver] = HU["liver"]
    lab[liver] = 2

    progress(0.35, "Vessels")
    tree = _vessel_tree(rng, np.array([-20.0, 5.0, -5.0]), np.array([-1.0, -0.35, 0.3]),
                        length=26.0, radius=3.4, depth=3)
    for p0, p1, r in tree:
        m = _segment_mask(shape, x, y, z, p0, p1, max(r, 1.3)) & liver
        hu[m] = HU["vessel"]
        lab[m] = 3

    progress(0.5, "Aorta")
    aorta = np.broadcast_to(((X - 22.0) ** 2 + (Y - 18.0) ** 2) <= 11.0**2, shape)
    hu[aorta] = HU["aorta"]
    lab[aorta] = 4

    progress(0.65, "Vertebra")
    zc = np.abs(Z) <= 15.0
    body_v = (X**2 + (Y - 48.0) ** 2 <= 17.0**2) & zc
    canal = X**2 + (Y - 72.0) ** 2 <= 8.5**2
    ring = (X**2 + (Y - 72.0) ** 2 <= 15.5**2) & (Y >= 60.0) & (np.abs(Z) <= 11.0)
    pedicles = (np.abs(np.abs(X) - 11.0) <= 4.0) & (Y >= 55.0) & (Y <= 70.0) & (np.abs(Z) <= 7.0)
    spinous = (np.abs(X) <= 3.0) & (Y >= 80.0) & (Y <= 98.0) & (Z >= -9.0) & (Z <= 6.0)
    transverse = (np.abs(X) >= 12.0) & (np.abs(X) <= 38.0) & (np.abs(Y - 68.0) <= 4.0) & (np.abs(Z) <= 5.0)
    bone = (body_v | ring | pedicles | spinous | transverse) & ~canal
    bone = np.broadcast_to(bone, shape) & inner
    hu[bone] = HU["cortex"]
    lab[bone] = 5
    # Cancellous core: bone voxels more than ~2.5 mm from the outside of the bone.
    from scipy import ndimage

    core = ndimage.binary_erosion(bone, iterations=max(1, int(round(2.5 / spacing))))
    hu[core] = HU["cancellous"]
    cord = np.broadcast_to((X**2 + (Y - 72.0) ** 2 <= 5.0**2), shape) & inner
    hu[cord] = HU["cord"]
    lab[cord] = 6

    progress(0.85, "Noise")
    hu += rng.normal(0.0, 12.0, shape).astype(np.float32) * (hu > -900)
    ct = img.copy()
    ct.point_data["HU"] = hu.ravel(order="F")
    labels = img.copy()
    labels.point_data["label"] = lab.ravel(order="F")
    progress(1.0, "Phantom ready")
    return Phantom(ct=ct, labels=labels)


def build_demo_case(progress: Progress = no_progress) -> Case:
    """The demo case: phantom CT, its segmented surfaces, a pedicle screw and a bracket."""
    from sim.demo.parts import make_bracket, make_pedicle_screw
    from sim.devices import make
    from sim.imaging.surface import labelmap_to_surfaces
    from sim.model import Case, ObjectKind, SceneObject
    from sim.progress import sub_progress

    ph = make_phantom(progress=sub_progress(progress, 0.0, 0.4))
    case = Case(name="Demo phantom", anatomical=True,
                description="Synthetic abdominal CT phantom generated by Twinsight, "
                            "with segmented surfaces, a pedicle screw and a bracket.")
    case.scene.add(SceneObject("CT", ObjectKind.VOLUME, ph.ct, color=(1, 1, 1), visible=False,
                               metadata={"modality": "CT", "units": "HU"}))
    surfaces = labelmap_to_surfaces(ph.labels, {k: v[0] for k, v in LABELS.items()},
                                    progress=sub_progress(progress, 0.4, 0.9),
                                    smoothing_iterations=40, pass_band=0.03)
    for label, surf in surfaces.items():
        name, color = LABELS[label]
        # See-through skin, and a liver translucent enough to show its vessels.
        opacity = {"Skin": 0.18, "Liver": 0.6}.get(name, 1.0)
        case.scene.add(SceneObject(name, ObjectKind.SURFACE, surf, color=color, opacity=opacity,
                                   metadata={"label": label}))
    case.scene.add(SceneObject("Pedicle screw 6.5x45", ObjectKind.DEVICE, make_pedicle_screw(),
                               color=(0.72, 0.74, 0.78),
                               metadata={"diameter_mm": 6.5, "length_mm": 45.0,
                                         **make("pedicle_screw", diameter=6.5, length=45).metadata()},
                               trajectory={"entry": (18.0, 88.0, 0.0),
                                           "target": (11.0, 62.0, 0.0)}))
    case.scene.add(SceneObject("Table bracket", ObjectKind.PART, make_bracket(),
                               color=(0.35, 0.55, 0.75)))
    progress(1.0, "Demo case ready")
    return case
