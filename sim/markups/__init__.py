"""Markups and measurements: points, lines, angles, planes and ROI boxes (LPS mm)."""

from sim.markups.model import Markup, MarkupList, MarkupType

__all__ = ["Markup", "MarkupList", "MarkupType"]
