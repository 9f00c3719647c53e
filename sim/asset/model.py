"""AssetModel: everything the live twin needs, precomputed from the FE model, in one file.

``build_model(config)`` solves the unit loads and keeps: the influence matrix H (sensors x
channels), the noise model, unit-load displacements and nodal stresses (virtual sensing,
the physics stress map), region sensitivities dH/d(stiffness) (health), hot spots and the
mesh (for display and virtual sensors). Saved as a compressed .npz (``twinsight twin build``).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim.asset.config import AssetConfig, SensorDef, config_from_dict
from sim.asset.influence import FeSystem, Params, observation_row
from sim.errors import FileFormatError, InputError
from sim.mesh.tetmesh import TetMesh
from sim.progress import Progress, no_progress

FORMAT, VERSION = "twinsight-asset-model", 1


@dataclass
class AssetModel:
    name: str
    config: dict[str, Any]  # the raw twin config (paths resolved)
    sensors: list[SensorDef]
    channels: list[str]
    channel_units: list[str]
    bounds: np.ndarray  # (C, 2)
    typical: np.ndarray  # (C,)
    H: np.ndarray  # (S, C) physics per unit load (before gain/offset)
    U: np.ndarray  # (ndof, C) float32 unit-load displacements
    stress: np.ndarray  # (n_nodes, 6, C) float32 unit-load nodal stress
    regions: list[str]
    dH: np.ndarray  # (R, S, C): dH / d(stiffness scale of region)
    hot_names: list[str]
    hot_nodes: np.ndarray  # (K,)
    points: np.ndarray  # mesh nodes (n, 3)
    cells: np.ndarray  # tetrahedra (m, 4|10)
    params: dict[str, Any] = field(default_factory=lambda: {"modulus": 1.0})
    calibration: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    _mesh: TetMesh | None = None

    # -- views -------------------------------------------------------------------------------
    @property
    def sensor_ids(self) -> list[str]:
        return [s.id for s in self.sensors]

    @property
    def noise(self) -> np.ndarray:
        return np.array([s.noise for s in self.sensors])

    @property
    def gain(self) -> np.ndarray:
        return np.array([s.gain for s in self.sensors])

    @property
    def offset(self) -> np.ndarray:
        return np.array([s.offset for s in self.sensors])

    @property
    def identifying(self) -> np.ndarray:
        """Sensors used for identification (acceleration is dynamic: predicted, not used)."""
        return np.array([s.kind != "acceleration" for s in self.sensors])

    @property
    def mesh(self) -> TetMesh:
        if self._mesh is None:
            self._mesh = TetMesh(self.points, self.cells, self.name)
        return self._mesh

    def predict(self, q: np.ndarray) -> np.ndarray:
        """Readings (T, S) the sensors should show for loads (T, C) (gain and offset applied)."""
        return (np.atleast_2d(q) @ self.H.T) * self.gain + self.offset

    def hot_stress(self) -> np.ndarray:
        """Stress influence at the hot spots (K, 6, C)."""
        return self.stress[self.hot_nodes].astype(float)

    def virtual_row(self, kind: str, point: Any, direction: Any) -> np.ndarray:
        """Reading per unit channel load (C,) of a virtual sensor anywhere on the model."""
        dofs, w = observation_row(self.mesh, "strain" if kind == "strain" else "disp",
                                  point, direction)
        return w @ self.U[dofs].astype(float)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "sensors": len(self.sensors), "channels": self.channels,
                "nodes": int(len(self.points)), "elements": int(len(self.cells)),
                "order": 2 if self.cells.shape[1] == 10 else 1, "regions": self.regions,
                "hot_spots": self.hot_names, "params": self.params,
                "calibrated": self.calibration is not None, "problems": self.problems}

    # -- file ---------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        from sim.model.atomic import write_file_atomic

        meta = {"format": FORMAT, "version": VERSION, "name": self.name, "config": self.config,
                "sensors": [s.to_dict() for s in self.sensors], "channels": self.channels,
                "channel_units": self.channel_units, "regions": self.regions,
                "hot_names": self.hot_names, "params": self.params,
                "calibration": self.calibration, "problems": self.problems,
                "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
                            bounds=self.bounds, typical=self.typical, H=self.H, U=self.U,
                            stress=self.stress, dH=self.dH, hot_nodes=self.hot_nodes,
                            points=self.points, cells=self.cells)
        return write_file_atomic(path, lambda f: f.write(buf.getvalue()))

    @classmethod
    def load(cls, path: str | Path) -> AssetModel:
        path = Path(path)
        if not path.is_file():
            raise FileFormatError(path, "no such file")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(arrays.pop("meta").tobytes().decode())
        except Exception as exc:
            raise FileFormatError(path, f"it is not a twin model ({type(exc).__name__})") \
                from None
        if meta.get("format") != FORMAT:
            raise FileFormatError(path, "it is not a twin model")
        if meta.get("version") != VERSION:
            raise FileFormatError(path, f"twin model version {meta.get('version')} is not "
                                        f"supported (expected {VERSION})")
        sensors = [SensorDef(s["id"], s["type"], tuple(s["point"]) if s["point"] else None,
                             tuple(s["direction"]) if s["direction"] else None, s["channel"],
                             s["noise"], s["gain"], s["offset"], s["topic"], s["unit"])
                   for s in meta["sensors"]]
        return cls(meta["name"], meta["config"], sensors, meta["channels"],
                   meta["channel_units"], arrays["bounds"], arrays["typical"], arrays["H"],
                   arrays["U"], arrays["stress"], meta["regions"], arrays["dH"],
                   meta["hot_names"], arrays["hot_nodes"], arrays["points"], arrays["cells"],
                   meta["params"], meta["calibration"], meta["problems"])

    def asset_config(self) -> AssetConfig:
        return config_from_dict(self.config, Path(self.config.get("_folder", ".")), self.name)


def _hot_spots(fe: FeSystem, cfg: AssetConfig, stress: np.ndarray, typical: np.ndarray
               ) -> tuple[list[str], np.ndarray]:
    """Named points (nearest surface node) plus the top-N von Mises surface nodes under the
    typical loads, at least a tenth of the model's size apart."""
    from sim.fem.results import von_mises

    spec = cfg.hot_spots
    mesh = fe.mesh
    surf = mesh.boundary_nodes() if callable(getattr(mesh, "boundary_nodes", None)) else \
        np.unique(mesh.boundary[0])
    surf = np.asarray(surf)
    names, nodes = [], []
    for name, p in (spec.get("points") or {}).items():
        d = np.linalg.norm(mesh.points[surf] - np.asarray(p, float), axis=1)
        names.append(str(name))
        nodes.append(int(surf[d.argmin()]))
    s = stress[surf] @ typical  # (n_s, 6)
    t = np.zeros((len(s), 3, 3))
    for c, (i, j) in enumerate(((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (0, 2))):
        t[:, i, j] = t[:, j, i] = s[:, c]
    vm = von_mises(t)
    sep = 0.1 * float(np.ptp(mesh.points, axis=0).max())
    for k in np.argsort(-vm):
        if len(names) >= len(spec.get("points") or {}) + int(spec.get("top", 3)):
            break
        n = int(surf[k])
        if all(np.linalg.norm(mesh.points[n] - mesh.points[m]) > sep for m in nodes):
            names.append(f"hot spot {len(names) + 1}")
            nodes.append(n)
    return names, np.array(nodes, dtype=np.int64)


def build_model(cfg: AssetConfig, params: Params | None = None,
                progress: Progress = no_progress, fe: FeSystem | None = None) -> AssetModel:
    """Solve the unit loads and assemble the twin's model."""
    p = params or Params()
    fe = fe or FeSystem(cfg, progress)
    problems = list(cfg.problems)
    Obs, kept = fe.observation(cfg.sensors, problems)
    names = [c.name for c in cfg.channels]
    progress(0.2, "Solving unit loads")
    # One factorisation, one solve: the channels' unit loads and, for the region
    # sensitivities, the sensors' adjoint loads Obs^T (Z = K^-1 Obs^T).
    W, _ = fe.solve(p, np.hstack([fe.F, Obs.T.toarray()]))
    U, Z = W[:, :len(names)], W[:, len(names):]
    rows, fe_i = [], 0
    sensors = []
    Hfe = Obs @ U
    for s in cfg.sensors:  # copies: a model's sensor gains and noise are its own
        if s.kind == "load_cell":
            rows.append(np.eye(len(names))[names.index(s.channel)])
            sensors.append(replace(s))
        elif fe_i < len(kept) and kept[fe_i] is s:
            rows.append(Hfe[fe_i])
            sensors.append(replace(s))
            fe_i += 1
    if not sensors:
        raise InputError("No sensor of the twin config is usable: " + " ".join(problems))
    H = np.array(rows)
    progress(0.5, "Stress influence")
    stress = fe.nodal_stress(U, p)
    progress(0.7, "Region sensitivities")
    regions = list(fe.region_of)
    dH = np.zeros((len(regions), len(sensors), len(names)))
    fe_rows = np.array([s.kind != "load_cell" for s in sensors])
    for r, name in enumerate(regions):
        # dK_r U + K dU = 0  ->  d(Obs U) = -Obs K^-1 dK_r U = -Z^T dK_r U
        dH[r, fe_rows] = -fe.sensitivity(name, p, U, Z)
        progress(0.7 + 0.2 * (r + 1) / max(1, len(regions)), f"Region {name}")
    typical = np.array([c.typical for c in cfg.channels])
    hot_names, hot_nodes = _hot_spots(fe, cfg, stress, typical)
    raw = dict(cfg.raw)
    raw["_folder"] = str(cfg.folder)
    progress(1.0, "Model built")
    return AssetModel(cfg.name, raw, sensors, names, [c.unit for c in cfg.channels],
                      np.array([c.bounds for c in cfg.channels], dtype=float), typical, H,
                      U.astype(np.float32), stress.astype(np.float32), regions, dH, hot_names,
                      hot_nodes, fe.mesh.points, fe.mesh.cells,
                      {"modulus": p.modulus, "supports": dict(p.supports)}, None, problems)
