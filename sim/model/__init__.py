"""The case and scene model: plain evented objects, valid without any GUI."""

from sim.model.scene import Case, ObjectKind, Scene, SceneObject

__all__ = ["Case", "ObjectKind", "Scene", "SceneObject"]
