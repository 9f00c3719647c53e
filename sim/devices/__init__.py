"""Device catalogue: parametric implants, stents and factory parts, plus user devices."""

from sim.devices.catalogue import (
    Device,
    families,
    family,
    frame_from_axis,
    make,
    pose_on_trajectory,
    sizes,
)
from sim.devices.user import load_user_device, load_user_device_file

__all__ = ["Device", "families", "family", "frame_from_axis", "load_user_device",
           "load_user_device_file", "make", "pose_on_trajectory", "sizes"]
