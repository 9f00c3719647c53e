"""Carry out a placement spec: evaluate, fit or size, plus a comparison of candidates."""

from __future__ import annotations

import numpy as np

from sim.devices.catalogue import Device, make, pose_on_trajectory
from sim.devices.user import user_device_from_dict
from sim.errors import InputError
from sim.placement.anatomy import scene_from_case
from sim.placement.evaluate import PlacementScene, evaluate
from sim.placement.fit import fit_on_trajectory
from sim.placement.report import comparison_table
from sim.placement.rigid_device import RigidDevice
from sim.placement.sizing import recommend_screw, size_stent
from sim.placement.spec import PlacementSpec
from sim.placement.vessel import vessel_profile
from sim.progress import Progress, no_progress, sub_progress


def _device(spec: PlacementSpec, size: dict | None = None) -> Device:
    d = spec.device
    if "user" in d:
        return user_device_from_dict(d["user"], spec.base)
    size = size if size is not None else d.get("size")
    if not isinstance(size, dict):
        raise InputError("The device needs a 'size' mapping (or 'auto' with action 'size').")
    return make(str(d["family"]), custom=bool(d.get("custom", False)), **size)


def _pose(spec_traj: dict | None, spec_pose: np.ndarray | None) -> np.ndarray:
    if spec_pose is not None:
        return spec_pose
    return pose_on_trajectory(spec_traj["entry"], spec_traj["target"], depth=spec_traj["depth"])


def run_spec(spec: PlacementSpec, progress: Progress = no_progress) -> tuple[dict, str]:
    """Run the spec; returns (JSON-ready result, plain-text report)."""
    device = None
    if spec.action != "size":  # check the device before the (slower) anatomy
        device = RigidDevice(_device(spec))
    case = None
    if spec.case is not None:
        from sim.io import load

        case = load(spec.case, progress=sub_progress(progress, 0.0, 0.1))
    scene = scene_from_case(case, spec.structures, spec.base, sub_progress(progress, 0.1, 0.3))
    scene.exact_within = spec.exact_within
    out: dict = {"action": spec.action}
    text: list[str] = []
    if spec.device.get("family") == "stent" and spec.action == "size":
        return _size_stent(spec, scene, sub_progress(progress, 0.3, 1.0))
    around = [spec.trajectory["entry"], spec.trajectory["target"]] if spec.trajectory else None
    if around is not None:
        scene.prepare(around, reach=70.0)
    work = sub_progress(progress, 0.3, 0.9)
    if spec.action == "size":
        rec = recommend_screw(scene, spec.trajectory["entry"], spec.trajectory["target"],
                              budget=int(spec.fit.get("budget", 250)), progress=work)
        out["recommendation"] = rec.to_dict()
        text.append("Recommended size: " + (f"{rec.diameter:g} x {rec.length:g} mm"
                                            if rec.diameter else "none fits"))
        text += ["  " + r for r in rec.reasons]
        if rec.fit is not None:
            text += ["", rec.fit.evaluation.table()]
        final = rec.fit.evaluation if rec.fit else None
    else:
        if spec.action == "fit":
            f = spec.fit
            res = fit_on_trajectory(scene, device, spec.trajectory["entry"], spec.trajectory["target"],
                                    mode=str(f.get("mode", "6dof")),
                                    max_shift=float(f.get("max_shift", 4.0)),
                                    max_tilt=float(f.get("max_tilt", 12.0)),
                                    budget=int(f.get("budget", 400)), progress=work)
            out["fit"] = res.to_dict()
            text += ["Planned pose:", res.start.table(), "", "Fitted pose:",
                     res.evaluation.table(), ""] + res.reasons
            final = res.evaluation
        else:
            final = evaluate(scene, device, _pose(spec.trajectory, spec.pose))
            out["evaluation"] = final.to_dict()
            text.append(final.table())
    if final is not None:
        out["chosen"] = {"device": final.device, "pose": final.to_dict()["pose"], "safe": final.safe}
        text += ["", f"Chosen: {final.device}", "Pose (anchor frame -> world):"]
        text += ["  " + " ".join(f"{v:10.4f}" for v in row) for row in final.pose]
    if spec.candidates:
        evs = [final] if final is not None else []
        labels = ["chosen"] if final is not None else []
        for i, c in enumerate(spec.candidates):
            dev = RigidDevice(_device(spec, c.get("size")))
            pose = _pose(c.get("trajectory", spec.trajectory), c.get("pose"))
            evs.append(evaluate(scene, dev, pose))
            labels.append(c.get("label", f"#{i + 1} {dev.device.label.split(' ')[-1]}"))
        out["comparison"] = [{"label": lbl, **e.to_dict()} for lbl, e in zip(labels, evs, strict=True)]
        text += ["", "Comparison:", comparison_table(evs, labels)]
    progress(1.0, "Placement done")
    return out, "\n".join(text)


def _size_stent(spec: PlacementSpec, scene: PlacementScene, progress: Progress) -> tuple[dict, str]:
    v = spec.vessel
    field = scene[str(v["structure"])].field
    surf = _surface_of_field(field)
    profile = vessel_profile(surf, v["start"], v["end"], step=float(v.get("step", 1.0)),
                             field=field, progress=progress)
    rec = size_stent(profile, landing_mm=float(v.get("landing_mm", 5.0)),
                     oversize=float(v.get("oversize", 0.1)))
    out = {"action": "size", "stent": rec.to_dict()}
    text = [f"Vessel path {profile.length:.1f} mm, diameters "
            f"{np.nanmin(profile.diameters):.2f}-{np.nanmax(profile.diameters):.2f} mm",
            "Recommended stent: " + (f"{rec.diameter:g} x {rec.length:g} mm"
                                     if rec.diameter and rec.length else "none in the catalogue")]
    text += ["  " + r for r in rec.reasons]
    text += ["", f"{'s (mm)':>8}{'diameter':>10}{'min':>8}{'max':>8}"]
    text += [f"{s:8.1f}{d:10.2f}{a:8.2f}{b:8.2f}" for s, d, a, b in
             zip(profile.arclength, profile.diameters, profile.min_diameters,
                 profile.max_diameters, strict=True)]
    return out, "\n".join(text)


def _surface_of_field(field) -> object:
    import pyvista as pv

    return pv.PolyData.from_regular_faces(field.vertices, field.faces)
