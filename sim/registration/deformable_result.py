"""The outcome of a deformable registration: updated organ, moved points, misfit, uncertainty."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyvista as pv

from sim.geometry.rigid import apply_transform
from sim.registration.fe_fit import FitState, embedding_responses

if TYPE_CHECKING:
    from sim.registration.deformable import DeformableModel
    from sim.registration.fe_fit_corotational import NonlinearDeformation

# Uncertainty classes of the constraint map (posterior standard deviation, mm).
WELL, POOR = 1.0, 3.0


@dataclass
class DeformableResult:
    """Pose organ -> data, deformation, misfit at the data, and what it says."""

    model: DeformableModel
    state: FitState
    points: np.ndarray  # data, data frame
    noise_mm: float
    elastic: bool  # False: the data needed more strain than allowed
    max_strain: float  # of the result
    wanted_strain: float  # what the unconstrained fit needed
    strain_limit: float
    rigid_only: np.ndarray  # the rigid initialisation's pose (organ -> data), for comparison
    wall_time_s: float = 0.0
    nonlinear: NonlinearDeformation | None = None  # the co-rotational deformation, if used
    warning: str = ""  # e.g. the neo-Hookean solve failed and the co-rotational fit is kept
    checks: dict[str, float] | None = None  # neo-Hookean: support reaction, Newton iterations

    @property
    def rigid(self) -> np.ndarray:
        """Organ (pre-op) -> data frame, 4x4."""
        return np.linalg.inv(self.state.T)

    @property
    def nodal_displacement(self) -> np.ndarray:
        """Deformation of the FE nodes in the organ frame (without the pose), (n, 3)."""
        if self.nonlinear is not None:
            return self.nonlinear.u
        return self.model.basis.displacement(self.state.a)

    @property
    def _responses(self) -> np.ndarray:
        """Nodal responses (3n, m) to the amplitudes at the result (tangent if co-rotational)."""
        return self.model.basis.U if self.nonlinear is None else self.nonlinear.U

    @property
    def material_model(self) -> str:
        return "linear" if self.nonlinear is None else self.nonlinear.law

    def move(self, points: np.ndarray) -> np.ndarray:
        """Where pre-op points (organ frame, mm) are now, in the data frame."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        emb = self.model.embed(p)
        return apply_transform(self.rigid, p + emb.map(self.nodal_displacement))

    def move_rigid_only(self, points: np.ndarray) -> np.ndarray:
        """Where the rigid initialisation alone puts pre-op points (for comparison)."""
        return apply_transform(self.rigid_only, np.asarray(points, dtype=np.float64))

    def deformed_surface(self) -> pv.PolyData:
        out = self.model.surface.copy()
        if self.nonlinear is None:
            v = self.model.reduced.surface(self.state.a)
        else:
            v = self.model.vertices + self.model.surface_embedding.matrix @ self.nonlinear.u
        out.points = apply_transform(self.rigid, v)
        return out

    def uncertainty(self, points: np.ndarray) -> np.ndarray:
        """Posterior standard deviation (mm, 3D) of the updated position of pre-op points.

        From the Laplace approximation of the fit: covariance H^-1 of (rotation, translation,
        amplitudes), mapped through d p = p x w - t + U_p d a. Regions the data pin down are
        near the noise level; regions far from the data show what the prior leaves open."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return _std(p, embedding_responses(self.model.embed(p).matrix, self._responses),
                    self.state.H)

    def surface_uncertainty(self) -> np.ndarray:
        """Posterior standard deviation (mm) of every organ surface vertex along its normal:
        the constraint map. Surface points (a stylus, a scan) fix the surface across it, not
        along it, so this is what the data can pin down: near the noise level where they
        are, the prior's spread where there are none."""
        normals = self.model.surface.compute_normals(
            cell_normals=False, point_normals=True, auto_orient_normals=True,
            consistent_normals=True).point_data["Normals"]
        Us = self.model.reduced.Us if self.nonlinear is None else embedding_responses(
            self.model.surface_embedding.matrix, self.nonlinear.U)
        return _std(self.model.vertices, Us, self.state.H,
                    np.asarray(normals, dtype=np.float64))

    @property
    def residual(self) -> np.ndarray:
        """Signed distance (mm) of each data point to the updated surface (+ outside)."""
        return self.state.residual

    @property
    def outliers(self) -> np.ndarray:
        return self.state.weight == 0.0

    @property
    def message(self) -> str:
        if self.elastic:
            return ""
        return (f"The data cannot be explained elastically: fitting them needs "
                f"{100 * self.wanted_strain:.0f} % strain (limit {100 * self.strain_limit:.0f} "
                f"%); the update stops at the limit and leaves an RMS misfit of "
                f"{self.state.rms:.2f} mm. Check the rigid registration and the points.")

    def constraint_map(self) -> dict[str, Any]:
        """Share of the organ surface that the data constrain well / poorly."""
        std = self.surface_uncertainty()
        area = _vertex_areas(self.model.surface)
        total = float(area.sum()) or 1.0
        return {"well_constrained_fraction": float(area[std <= WELL].sum() / total),
                "poorly_constrained_fraction": float(area[std > POOR].sum() / total),
                "median_uncertainty_mm": float(np.median(std)),
                "max_uncertainty_mm": float(std.max()),
                "classes_mm": {"well": f"<= {WELL:g}", "poor": f"> {POOR:g}"}}

    def summary(self) -> dict[str, Any]:
        inl = ~self.outliers
        r = self.residual[inl]
        return {
            "method": "deformable (FE load basis)",
            "material_model": self.material_model,
            **({"max_rotation_deg": self.nonlinear.max_rotation_deg}
               if self.nonlinear is not None else {}),
            "points": len(self.points), "outliers": int(self.outliers.sum()),
            "noise_mm": self.noise_mm,
            "residual_rms_mm": float(np.sqrt(np.mean(r ** 2))) if r.size else float("nan"),
            "residual_max_mm": float(np.abs(r).max()) if r.size else float("nan"),
            "prior_amplitude_mm": float(1.0 / np.sqrt(self.state.lam)),
            "matrix": self.rigid.tolist(), "elastic": self.elastic,
            "max_strain": self.max_strain, "strain_limit": self.strain_limit,
            "max_deformation_mm": float(np.linalg.norm(self.nodal_displacement, axis=1).max()),
            "tetrahedra": self.model.mesh.n_elements, "load_patterns": self.model.reduced.m,
            "iterations": self.state.iterations, "converged": self.state.converged,
            "wall_time_s": self.wall_time_s,
            **({"neo_hookean": self.checks} if self.checks else {}),
            **({"warning": self.warning} if self.warning else {}),
            **({"message": self.message} if self.message else {}),
        }


def _std(p: np.ndarray, Up: np.ndarray, H: np.ndarray,
         normals: np.ndarray | None = None) -> np.ndarray:
    cov = np.linalg.inv(H)
    k = len(p)
    J = np.zeros((k, 3, H.shape[0]))
    # p x w  (cross-product matrix of p applied to w), then -t, then the basis responses.
    J[:, 0, 1], J[:, 0, 2] = -p[:, 2], p[:, 1]
    J[:, 1, 0], J[:, 1, 2] = p[:, 2], -p[:, 0]
    J[:, 2, 0], J[:, 2, 1] = -p[:, 1], p[:, 0]
    J[:, :, 3:6] = -np.eye(3)
    J[:, :, 6:] = Up
    if normals is not None:  # only the component along each normal
        J = np.einsum("kd,kdi->ki", normals, J)[:, None, :]
    var = np.einsum("kdi,ij,kdj->k", J, cov, J, optimize=True)
    return np.sqrt(np.maximum(var, 0.0))


def _vertex_areas(surface: pv.PolyData) -> np.ndarray:
    faces = np.asarray(surface.faces).reshape(-1, 4)[:, 1:]
    v = np.asarray(surface.points)
    a = 0.5 * np.linalg.norm(np.cross(v[faces[:, 1]] - v[faces[:, 0]],
                                      v[faces[:, 2]] - v[faces[:, 0]]), axis=1)
    return np.bincount(faces.ravel(), np.repeat(a / 3.0, 3), minlength=len(v))
