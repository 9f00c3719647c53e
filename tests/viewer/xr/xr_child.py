"""One XR scenario in its own process (the runtime and its GL context never share a process
with another test). Usage: python xr_child.py SCENARIO OUT_DIR [CASE_DIR]

Writes OUT_DIR/result.json (and eye images as .npy) for the parent test to check.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyvista as pv

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from sim.model import Case, ObjectKind, SceneObject  # noqa: E402
from tests.viewer.xr.monado_remote import RemoteRig  # noqa: E402
from viewer.xr.eye_camera import EyeView  # noqa: E402
from viewer.xr.headset import HeadsetView  # noqa: E402
from viewer.xr.interaction import object_matrix  # noqa: E402

SPHERE_COLOR = (0.9, 0.15, 0.1)
BOX_COLOR = (0.1, 0.3, 0.95)


def sphere_case() -> Case:
    case = Case(name="XR test", anatomical=True)
    case.scene.add(SceneObject("Ball", ObjectKind.SURFACE, pv.Sphere(radius=30.0, theta_resolution=48,
                                                                    phi_resolution=48),
                               color=SPHERE_COLOR))
    box = pv.Box(bounds=(-12, 12, -12, 12, -12, 12)).triangulate()
    box.translate((90.0, 0.0, 0.0), inplace=True)
    case.scene.add(SceneObject("Block", ObjectKind.PART, box, color=BOX_COLOR))
    return case


def project(eye: EyeView, p_xr, size) -> tuple[float, float]:
    """Pixel (column, row from the top) of a headset point, straight from the located view."""
    v = eye.pose.rotation.T @ (np.asarray(p_xr, float) - eye.pose.position)
    x, y = v[0] / -v[2], v[1] / -v[2]
    f = eye.fov
    tl, tr = np.tan(f.angle_left), np.tan(f.angle_right)
    tu, td = np.tan(f.angle_up), np.tan(f.angle_down)
    w, h = size
    return (x - tl) / (tr - tl) * w, (tu - y) / (tu - td) * h


def phase(name: str) -> None:
    """Progress on stderr, so a failing run shows how far it got."""
    print(f"[xr_child] {name}", file=sys.stderr, flush=True)


@contextmanager
def remote_headset(case: Case, **kwargs) -> Iterator[tuple[HeadsetView, RemoteRig]]:
    """The headset view of ``case`` (``kwargs`` for HeadsetView) and the remote driver's rig that
    moves its head and hands (on the test's port); both closed after."""
    port = int(os.environ["TWINSIGHT_TEST_REMOTE_PORT"])
    view = HeadsetView(case, **kwargs)
    rig = RemoteRig(port)
    try:
        yield view, rig
    finally:
        rig.close()
        view.stop()


def run_until(view: HeadsetView, done, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the XR session did not get there in time")
        if not view.tick():
            raise RuntimeError("the XR session ended unexpectedly")


def frames(view: HeadsetView, n: int) -> None:
    target = view.session.stats.rendered + n
    run_until(view, lambda: view.session.stats.rendered >= target, 20.0 + 3.0 * n)


def save_eyes(view: HeadsetView, out: Path, tag: str) -> None:
    for name, img in zip(("left", "right"), view.eye_images(), strict=True):
        np.save(out / f"{tag}_{name}.npy", img)


def eye_info(view: HeadsetView, p_xr) -> dict:
    size = view.session.eye_size
    return {"size": list(size),
            "projected": [list(project(e, p_xr, size)) for e in view.session.eyes],
            "eye_positions": [e.pose.position.tolist() for e in view.session.eyes]}


def scenario_render(out: Path, case_dir: str | None) -> dict:
    from sim.io import load

    case = load(case_dir) if case_dir else sphere_case()
    view = HeadsetView(case, capture=True)
    try:
        frames(view, 3)
        save_eyes(view, out, "frame")
        b = case.scene.bounds()
        center = [(b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2]
        info = eye_info(view, view.placement.to_xr(center))
        info["render_window"] = view.session.stereo.render_window.GetClassName()
        info["runtime"] = view.session.runtime_name
        info["system"] = view.session.system_name
        info["fps"] = view.session.stats.fps
        return info
    finally:
        view.stop()


ASYMMETRIC_FOVS = [(-0.9, 0.6, 0.7, -0.5), (-0.6, 0.9, 0.7, -0.5)]  # canted-out eyes, radians


def scenario_asym(out: Path, _case_dir) -> dict:
    """Views scripted through the remote driver: asymmetric fields of view, known eye poses."""
    case = sphere_case()
    case.scene["Block"].visible = False
    with remote_headset(case, capture=True) as (view, rig):
        head = rig.data.head
        head.per_view_data_valid = True
        for i, (fov, x) in enumerate(zip(ASYMMETRIC_FOVS, (-0.032, 0.032), strict=True)):
            f = head.views[i].fov
            f.angle_left, f.angle_right, f.angle_up, f.angle_down = fov
            head.views[i].pose.orientation.w = 1.0
            head.views[i].pose.position.x = x
        rig.send()
        run_until(view, lambda: len(view.session.eyes) == 2 and abs(
            view.session.eyes[0].fov.angle_left - ASYMMETRIC_FOVS[0][0]) < 1e-5)
        view.place_scene(view.session.head)
        frames(view, 2)
        save_eyes(view, out, "frame")
        info = eye_info(view, view.placement.to_xr([0.0, 0.0, 0.0]))
        info["fovs"] = [[e.fov.angle_left, e.fov.angle_right, e.fov.angle_up, e.fov.angle_down]
                        for e in view.session.eyes]
        return info


def scenario_deform(out: Path, _case_dir) -> dict:
    case = sphere_case()
    case.scene["Block"].visible = False
    view = HeadsetView(case, capture=True)
    try:
        frames(view, 2)
        save_eyes(view, out, "before")
        size = view.session.eye_size
        tip_before = view.placement.to_xr([30.0, 0.0, 0.0])  # seen by this frame's eyes
        before = [list(project(e, tip_before, size)) for e in view.session.eyes]
        ball = case.scene["Ball"].data
        pts = np.asarray(ball.points)
        # Push the patient-left half (+x) out by 25 mm: an in-place edit, as an FE step does.
        pts[pts[:, 0] > 0, 0] += 25.0
        ball.points = pts
        ball.Modified()
        frames(view, 1)
        save_eyes(view, out, "after")
        tip_after = view.placement.to_xr([55.0, 0.0, 0.0])
        return {"size": list(size), "tip_before": before,
                "tip_after": [list(project(e, tip_after, size)) for e in view.session.eyes]}
    finally:
        view.stop()


def _wait_grip(view: HeadsetView, side: str, moved_from=None, squeeze=None) -> None:
    def ready():
        hand = view.interaction.last.hands[side]
        if hand.grip is None:
            return False
        if moved_from is not None and np.linalg.norm(hand.grip.position - moved_from) < 1e-4:
            return False
        return squeeze is None or (hand.squeezing == squeeze)
    run_until(view, ready)


def scenario_grab(out: Path, _case_dir) -> dict:
    """Squeeze inside the block, move the hand by a scripted offset, let go."""
    case = sphere_case()
    with remote_headset(case) as (view, rig):
        start = np.array([0.2, 1.3, -0.5])
        rig.set_position("right", start)
        rig.send()
        frames(view, 2)
        _wait_grip(view, "right")
        grip0 = view.interaction.last.hands["right"].grip.position.copy()
        block = case.scene["Block"]
        b = block.data.bounds
        center = np.array([(b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2])
        # Bring the block to the hand (the runtime's space origin is its own business).
        view.placement.translation = view.placement.translation + grip0 - view.placement.to_xr(center)
        placement_before = view.placement.matrix()
        rig.hand("right").squeeze_value = 1.0
        rig.send()
        _wait_grip(view, "right", squeeze=True)
        offset = np.array([0.05, 0.02, -0.03])  # metres, headset frame
        rig.set_position("right", start + offset)
        rig.send()
        _wait_grip(view, "right", moved_from=grip0)
        frames(view, 1)
        moved = object_matrix(block)[:3, 3].tolist()
        rig.hand("right").squeeze_value = 0.0
        rig.send()
        _wait_grip(view, "right", squeeze=False)
        grip1 = view.interaction.last.hands["right"].grip.position
        result = {"offset_m": offset.tolist(), "hand_moved_m": (grip1 - grip0).tolist(),
                  "object_translation_mm": moved,
                  "selected": case.scene.selected.name if case.scene.selected else None,
                  "placement_unchanged": bool(np.allclose(view.placement.matrix(),
                                                          placement_before))}
        to_local = grip0 - start  # the runtime's LOCAL space vs the remote driver's frame

        # Ray select: aim the right hand at the ball from 30 cm in front and pull the trigger.
        ball = case.scene["Ball"]
        rig.set_position("right", view.placement.to_xr([0.0, 0.0, 0.0]) + [0, 0, 0.3] - to_local)
        rig.hand("right").trigger_value = 1.0
        rig.send()
        run_until(view, lambda: case.scene.selected is ball)
        rig.hand("right").trigger_value = 0.0
        result["ray_selected"] = case.scene.selected.name

        # Both hands squeeze in empty space (above the scene) and spread to twice the span.
        above = view.placement.to_xr([0.0, 0.0, 0.0]) + [0, 0.5, 0] - to_local
        for side, dx in (("left", -0.1), ("right", 0.1)):
            rig.set_position(side, above + [dx, 0, 0])
            rig.hand(side).squeeze_value = 1.0
        rig.send()
        run_until(view, lambda: len(view.interaction.grabs) == 2)
        frames(view, 1)
        scale0 = view.placement.scale
        for side, dx in (("left", -0.2), ("right", 0.2)):
            rig.set_position(side, above + [dx, 0, 0])
        rig.send()
        run_until(view, lambda: abs(view.interaction.hand_span_mm() * view.placement.scale
                                    - 0.4) < 1e-4)
        frames(view, 1)
        result["scale_ratio"] = view.placement.scale / scale0
        result["scene_grab_targets"] = [g.target for g in view.interaction.grabs.values()]
        result["panel"] = view.panel.text
        return result


def scenario_cycles(out: Path, _case_dir) -> dict:
    case = sphere_case()
    rss, fds, threads = [], [], []
    for _ in range(10):
        view = HeadsetView(case)
        try:
            frames(view, 2)
        finally:
            view.stop()
        status = Path("/proc/self/status").read_text().split("\n")
        rss.append(int(next(line for line in status if line.startswith("VmRSS:")).split()[1]))
        fds.append(len(os.listdir("/proc/self/fd")))
        threads.append(len(os.listdir("/proc/self/task")))
    return {"rss_kb": rss, "open_fds": fds, "threads": threads,
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def scenario_gui(out: Path, _case_dir) -> dict:
    """View > Enter XR in the main window: frames flow from the GUI timer, then Leave."""
    from PyQt6.QtWidgets import QApplication

    from viewer.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    win = MainWindow()
    win.show()
    win.ask_unsaved_changes = lambda: "discard"  # never a modal dialog at close
    case = sphere_case()
    win.set_case(case)
    menu = win.xr_menu

    def pump_until(done, timeout_s=30.0):
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("the GUI did not get there in time")
            app.processEvents()

    menu.enter_action.setChecked(True)
    pump_until(lambda: menu.controller.active and menu.controller.view.session.stats.rendered >= 3)
    session = menu.controller.view.session
    # A model change made on the desktop side shows in the headset's next frames.
    case.scene["Block"].visible = False
    target = session.stats.rendered + 2
    pump_until(lambda: session.stats.rendered >= target)
    block_actor_visible = any(
        a.GetVisibility() for a in session.stereo.adapters[case.scene["Block"].uid].actors)
    rendered = session.stats.rendered
    menu.enter_action.setChecked(False)
    pump_until(lambda: not menu.controller.active)
    result = {"rendered": rendered, "checked_after": menu.enter_action.isChecked(),
              "error": str(win.last_error) if win.last_error else None,
              "block_visible_in_xr": block_actor_visible}
    win.close()
    return result


def desktop_plotter(size):
    """An offscreen desktop plotter on the X display (never VTK's EGL fallback: see
    :func:`viewer.xr.gl_binding.fell_back_to_egl`)."""
    import pyvista as pv

    from viewer.xr.gl_binding import fell_back_to_egl

    for _ in range(3):
        plotter = pv.Plotter(off_screen=True, window_size=list(size))
        plotter.ren_win.Render()
        if not fell_back_to_egl(plotter.ren_win):
            return plotter
        plotter.close()
        time.sleep(0.5)
    raise RuntimeError("no X connection for the desktop renderer")


def scenario_bench(out: Path, case_dir: str | None) -> dict:
    """Seconds per desktop frame vs per XR frame (both eyes + copies) of the same case.

    The two are interleaved frame by frame so that load from other processes on the
    machine hits both alike; a desktop frame counts until its pixels are finished.
    """

    from sim.io import load
    from sim.render import SceneRenderer
    from viewer.xr.stereo_renderer import read_pixels

    case = load(case_dir) if case_dir else sphere_case()
    n = int(os.environ.get("TWINSIGHT_BENCH_FRAMES", "15"))
    scale = float(os.environ.get("TWINSIGHT_BENCH_SCALE", "1.0"))
    view = HeadsetView(case, resolution_scale=scale)  # remote driver: the head keeps still
    phase("session started")
    plotter = None
    try:
        frames(view, 2)
        eye_w, eye_h = view.session.eye_size
        # The desktop renderer (anterior view, fitted), one eye's size, in the same process.
        plotter = desktop_plotter([eye_w, eye_h])
        renderer = SceneRenderer(plotter, case)
        renderer.set_view("A")
        phase("desktop renderer made")
        cam = plotter.camera
        d_desk = float(np.linalg.norm(np.subtract(cam.position, cam.focal_point)))
        tan_w_desk = 2.0 * np.tan(np.radians(cam.view_angle) / 2.0) * eye_w / eye_h
        # Same framing in the headset: the scene spans the same fraction of the eye's width.
        fov = view.session.eyes[0].fov
        tan_w_xr = np.tan(fov.angle_right) - np.tan(fov.angle_left)
        view.view_distance_m = d_desk * view.placement.scale * tan_w_desk / tan_w_xr
        view.placement.center_in_front(case.scene.bounds(), view.session.head,
                                       view.view_distance_m, 0.0)
        view.session.capture = True  # keep one frame to check the scene is in the eyes
        frames(view, 1)
        save_eyes(view, out, "bench")
        view.session.capture = False
        for _ in range(2):
            plotter.ren_win.Render()
            plotter.ren_win.WaitForCompletion()
        phase("timing")
        desk, desk_cpu, xr_times, xr_cpu = [], [], [], []
        t_loop = 0.0
        for _ in range(n):
            t, c = time.perf_counter(), time.process_time()
            plotter.ren_win.Render()
            plotter.ren_win.WaitForCompletion()
            desk.append(time.perf_counter() - t)
            desk_cpu.append(time.process_time() - c)
            t = time.perf_counter()
            frames(view, 1)
            t_loop += time.perf_counter() - t
            xr_times.append(view.session.stats.last_render_s)
            xr_cpu.append(view.session.stats.last_render_cpu_s)
        np.save(out / "bench_desktop.npy", read_pixels(plotter.ren_win))
    finally:
        phase("stopping")
        view.stop()
        phase("session closed")
        if plotter is not None:
            plotter.close()
        phase("desktop closed")
    # Software GL renders on the CPU, which other processes share here: the cost of a frame
    # is the CPU time this process spends on it (all threads, Monado's included); wall-clock
    # figures are reported too (best and median of the interleaved frames).
    return {"eye_size": [eye_w, eye_h], "frames": n,
            "xr_cpu_s": float(np.median(xr_cpu)), "desktop_cpu_s": float(np.median(desk_cpu)),
            "xr_wall_best_s": float(np.min(xr_times)), "desktop_wall_best_s": float(np.min(desk)),
            "xr_wall_median_s": float(np.median(xr_times)),
            "desktop_wall_median_s": float(np.median(desk)), "xr_loop_fps": n / t_loop}


def scenario_pull(out: Path, _case_dir) -> dict:
    """Trigger-drag on FE-simulated tissue through the runtime's controller input."""
    from sim.fem.body import Body
    from sim.fem.interactive import CorotationalSimulator
    from sim.fem.materials import Material
    from sim.mesh.generators import box
    from viewer.xr.deform_grab import SimulatorGrab

    mesh = box((40.0, 40.0, 40.0), (4, 4, 4))
    body = Body(mesh, Material("soft tissue", 0.01, 0.45, 1.0e-9, law="corotational"))
    sim = CorotationalSimulator(body, np.flatnonzero(mesh.points[:, 2] < 1e-9),
                                gravity=(0.0, 0.0, 0.0))
    case = Case(name="Tissue block")
    tissue = case.scene.add(SceneObject("Tissue", ObjectKind.SURFACE, mesh.surface(),
                                        color=SPHERE_COLOR))
    grab = SimulatorGrab(tissue, sim)
    with remote_headset(case, deformer=grab) as (view, rig):
        start = np.array([0.2, 1.3, -0.5])
        rig.set_position("right", start)
        rig.send()
        frames(view, 2)
        _wait_grip(view, "right")
        to_local = view.interaction.last.hands["right"].grip.position - start
        above = view.placement.to_xr([20.0, 20.0, 40.0]) + [0.0, 0.1, 0.0] - to_local
        o = rig.hand("right").pose.orientation
        o.x, o.y, o.z, o.w = -np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5)  # pointing down
        rig.set_position("right", above)
        rig.hand("right").trigger_value = 1.0
        rig.send()
        run_until(view, lambda: grab.node is not None)
        grabbed = mesh.points[grab.node].tolist()
        rig.set_position("right", above + [0.0, 0.01, 0.0])
        rig.send()
        run_until(view, lambda: abs(sim.targets.get(grab.node, np.zeros(3))[2] - 50.0) < 1e-3)
        for _ in range(5):
            grab.step()
            frames(view, 1)  # the deforming surface is drawn from the model each frame
        node = grab.node
        pulled = np.asarray(tissue.data.points)[node].tolist()
        panel = view.panel.text
        rig.hand("right").trigger_value = 0.0
        rig.send()
        run_until(view, lambda: grab.node is None)
        return {"grabbed": grabbed, "pulled": pulled, "selected": case.scene.selected.name,
                "panel": panel}


def scenario_rehearsal(out: Path, case_dir: str | None) -> dict:
    """A rehearsal attempt run by the workbench (not by a panel): its tissue deforms in the
    eyes as the retractor pushes the liver."""
    from sim.io import load
    from sim.rehearsal.builder import build_scenario
    from sim.rehearsal.session import RehearsalWorld
    from sim.workbench import Workbench
    from viewer.xr.sim_link import SimulationLink

    case = load(case_dir)
    scenario = build_scenario(case)
    world = RehearsalWorld(scenario, case)
    bench = Workbench(case=case)
    run = bench.run_simulation(world.session(), world.body_obj, owner="rehearsal", world=world,
                               start=False)
    view = HeadsetView(case, capture=True, deformer=SimulationLink(bench))
    try:
        frames(view, 3)
        save_eyes(view, out, "before")
        before = run.surface().points.copy()
        x, y0, z = scenario.setup.instruments[0]["pose"]["position"]
        for i, y in enumerate(np.linspace(y0, -48.0, 12)):  # push the liver back, like a trainee
            run.post({"type": "pose", "instrument": "retractor",
                      "pose": {"position": [x, float(y), z], "direction": [0, 0, 1]}})
            run.loop.step_once()
            run.loop.wait_for_step(i + 1, 30.0)
        frames(view, 3)
        save_eyes(view, out, "after")
        moved = np.linalg.norm(run.surface().points - before, axis=1)
        shown = [a for a in view.session.stereo.extra_actors
                 if hasattr(a, "GetMapper") and a.GetMapper().GetInput() is run.surface()]
        return {"max_moved_mm": float(moved.max()), "drawn": len(shown),
                "owner": bench.simulation.owner}
    finally:
        view.stop()
        bench.shutdown()


SCENARIOS = {"render": scenario_render, "deform": scenario_deform, "grab": scenario_grab,
             "cycles": scenario_cycles, "gui": scenario_gui,
             "bench": scenario_bench, "pull": scenario_pull,
             "asym": scenario_asym, "rehearsal": scenario_rehearsal}

if __name__ == "__main__":
    name, out_dir = sys.argv[1], Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    result = SCENARIOS[name](out_dir, sys.argv[3] if len(sys.argv) > 3 else None)
    (out_dir / "result.json").write_text(json.dumps(result))
    print("ok")
