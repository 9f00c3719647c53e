"""Headset furniture drawn into both eyes: controller rays and a small text panel.

Both live in headset metres and are mapped into the scene (mm) through the current
placement every frame, so they keep their size when the scene is scaled.
"""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkCommonTransforms import vtkTransform
from vtkmodules.vtkFiltersCore import vtkAppendPolyData
from vtkmodules.vtkFiltersGeneral import vtkTransformFilter
from vtkmodules.vtkFiltersSources import vtkCylinderSource, vtkLineSource, vtkSphereSource
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkTextActor3D

from viewer.xr.eye_camera import Pose, ScenePlacement
from viewer.xr.xr_input import HANDS, ControllerFrame

PANEL_FONT_PX = 48
PANEL_LINE_M = 0.014  # height of one line of panel text in the headset
RAY_M = 1.5


def _to_vtk(m: np.ndarray) -> vtkMatrix4x4:
    out = vtkMatrix4x4()
    out.DeepCopy(list(np.asarray(m, float).reshape(16)))
    return out


class HandRays:
    """A thin line along each controller's aim, ending where it hits the scene if it does."""

    def __init__(self) -> None:
        self.sources: dict[str, vtkLineSource] = {}
        self.actors: list[vtkActor] = []
        for hand in HANDS:
            src = vtkLineSource()
            mapper = vtkPolyDataMapper()
            mapper.SetInputConnection(src.GetOutputPort())
            actor = vtkActor()
            actor.SetMapper(mapper)
            actor.GetProperty().SetColor(0.55, 0.85, 1.0)
            actor.GetProperty().SetLineWidth(2.0)
            actor.GetProperty().LightingOff()
            actor.PickableOff()
            actor.VisibilityOff()
            self.sources[hand] = src
            self.actors.append(actor)

    def update(self, frame: ControllerFrame, placement: ScenePlacement) -> None:
        for hand, actor in zip(HANDS, self.actors, strict=True):
            aim = frame.hands[hand].aim
            if aim is None:
                actor.VisibilityOff()
                continue
            start = aim.position
            end = start + aim.rotation @ np.array([0.0, 0.0, -RAY_M])
            self.sources[hand].SetPoint1(*placement.to_scene(start))
            self.sources[hand].SetPoint2(*placement.to_scene(end))
            actor.VisibilityOn()


class TextPanel:
    """A few lines of text hovering above the left controller (or low-left in view)."""

    def __init__(self) -> None:
        self.actor = vtkTextActor3D()
        prop = self.actor.GetTextProperty()
        prop.SetFontSize(PANEL_FONT_PX)
        prop.SetColor(0.95, 0.97, 1.0)
        prop.SetBackgroundColor(0.08, 0.1, 0.14)
        prop.SetBackgroundOpacity(0.8)
        prop.SetFrame(True)
        prop.SetFrameColor(0.4, 0.7, 1.0)
        self.actor.PickableOff()
        self.text = ""

    def set_lines(self, lines: list[str]) -> None:
        text = "\n".join(lines)
        if text != self.text:
            self.text = text
            self.actor.SetInput(text)

    def update(self, frame: ControllerFrame, head: Pose | None,
               placement: ScenePlacement) -> None:
        left = frame.hands["left"].grip
        if left is not None:
            anchor = left.matrix()
            offset = np.eye(4)
            offset[:3, 3] = (-0.04, 0.05, 0.0)
        elif head is not None:
            anchor = head.matrix()
            offset = np.eye(4)
            offset[:3, 3] = (-0.22, -0.12, -0.5)
        else:
            self.actor.VisibilityOff()
            return
        k = PANEL_LINE_M / PANEL_FONT_PX  # metres per font pixel
        scale = np.diag([k, k, k, 1.0])
        scene_from_xr = np.linalg.inv(placement.matrix())
        self.actor.SetUserMatrix(_to_vtk(scene_from_xr @ anchor @ offset @ scale))
        self.actor.VisibilityOn()


HAND_COLORS = {"left": (0.2, 0.85, 0.7), "right": (0.7, 0.45, 1.0)}  # unlike tissue reds
SQUEEZE_COLOR = (1.0, 0.9, 0.2)
TRIGGER_RAY_COLOR = (0.3, 1.0, 0.4)


def controller_mesh() -> vtkPolyData:
    """A simple controller in its grip frame (metres): a handle along z, the tracking ring
    and trigger end forward (-z), as OpenXR's grip pose holds it."""
    handle = vtkCylinderSource()
    handle.SetRadius(0.016)
    handle.SetHeight(0.11)
    handle.SetResolution(24)
    turn = vtkTransform()
    turn.RotateX(90.0)  # the cylinder's axis is y; the grip's tube is z
    along = vtkTransformFilter()
    along.SetTransform(turn)
    along.SetInputConnection(handle.GetOutputPort())
    ring = vtkSphereSource()
    ring.SetRadius(0.026)
    ring.SetCenter(0.0, 0.012, -0.07)
    ring.SetThetaResolution(24)
    ring.SetPhiResolution(16)
    both = vtkAppendPolyData()
    both.AddInputConnection(along.GetOutputPort())
    both.AddInputConnection(ring.GetOutputPort())
    both.Update()
    return both.GetOutput()


class ControllerModels:
    """A controller model at each hand's grip; it lights up while squeezing, and the hand's
    ray turns green while the trigger is held."""

    def __init__(self, rays: HandRays | None = None) -> None:
        self.rays = rays
        mesh = controller_mesh()
        self.actors: dict[str, vtkActor] = {}
        for hand in HANDS:
            mapper = vtkPolyDataMapper()
            mapper.SetInputData(mesh)
            actor = vtkActor()
            actor.SetMapper(mapper)
            actor.GetProperty().SetColor(*HAND_COLORS[hand])
            actor.GetProperty().SetSpecular(0.4)
            actor.PickableOff()
            actor.VisibilityOff()
            self.actors[hand] = actor

    def update(self, frame: ControllerFrame, placement: ScenePlacement) -> None:
        scene_from_xr = np.linalg.inv(placement.matrix())
        for i, hand in enumerate(HANDS):
            state, actor = frame.hands[hand], self.actors[hand]
            if state.grip is None:
                actor.VisibilityOff()
            else:
                actor.SetUserMatrix(_to_vtk(scene_from_xr @ state.grip.matrix()))
                actor.GetProperty().SetColor(*(SQUEEZE_COLOR if state.squeezing else HAND_COLORS[hand]))
                actor.VisibilityOn()
            if self.rays is not None:
                self.rays.actors[i].GetProperty().SetColor(
                    *(TRIGGER_RAY_COLOR if state.triggering else (0.55, 0.85, 1.0)))
