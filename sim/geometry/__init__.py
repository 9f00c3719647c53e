"""Geometry shared by every room: rigid transforms (:mod:`sim.geometry.rigid`)."""
