"""Is there an OpenXR runtime, which one, and what headset: the ``twinsight xr --check`` report."""

from __future__ import annotations

import os
from typing import Any

from sim.errors import TwinsightError

GL_EXTENSIONS = ("XR_KHR_opengl_enable", "XR_MNDX_egl_enable")
NO_RUNTIME = ("No OpenXR runtime is installed (install one such as Monado or SteamVR, or point "
              "XR_RUNTIME_JSON at its manifest).")


class XRUnavailable(TwinsightError):
    """No OpenXR runtime, no headset, or a runtime that cannot draw with OpenGL."""


def quiet_loader() -> None:
    """The OpenXR loader prints its own errors to stderr; we report problems in one sentence."""
    os.environ.setdefault("XR_LOADER_DEBUG", "none")


def import_xr():
    quiet_loader()
    try:
        import xr
    except ImportError as exc:  # pragma: no cover - pyopenxr is a dependency
        raise XRUnavailable(f"The OpenXR bindings (pyopenxr) are not installed: {exc}.") from None
    return xr


def _name(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def create_instance(extensions: list[str]):
    """An OpenXR instance, or :class:`XRUnavailable` with a plain reason."""
    xr = import_xr()
    manifest = os.environ.get("XR_RUNTIME_JSON")
    if manifest and not os.path.isfile(manifest):
        raise XRUnavailable(f"No OpenXR runtime is installed at {manifest} (XR_RUNTIME_JSON).")
    try:
        available = {_name(e.extension_name) for e in xr.enumerate_instance_extension_properties()}
        wanted = [e for e in extensions if e in available]
        info = xr.InstanceCreateInfo(
            application_info=xr.ApplicationInfo("Twinsight", 1, "Twinsight", 1,
                                                xr.XR_CURRENT_API_VERSION),
            enabled_extension_names=wanted)
        return xr.create_instance(info), wanted
    except xr.RuntimeUnavailableError:
        raise XRUnavailable(NO_RUNTIME) from None
    except xr.XrException as exc:
        raise XRUnavailable(f"The OpenXR runtime failed to start: {exc}.") from None


def get_system(xr, instance):
    try:
        return xr.get_system(instance, xr.SystemGetInfo(
            form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
    except xr.FormFactorUnavailableError:
        raise XRUnavailable("The OpenXR runtime is installed but no headset is connected.") from None
    except xr.XrException as exc:
        raise XRUnavailable(f"The OpenXR runtime has no headset system: {exc}.") from None


def runtime_report() -> dict[str, Any]:
    """Runtime, system and per-eye resolution; raises :class:`XRUnavailable`."""
    xr = import_xr()
    instance, enabled = create_instance(list(GL_EXTENSIONS))
    try:
        props = xr.get_instance_properties(instance)
        version = xr.Version(props.runtime_version)
        system_id = get_system(xr, instance)
        sysprops = xr.get_system_properties(instance, system_id)
        views = xr.enumerate_view_configuration_views(
            instance, system_id, xr.ViewConfigurationType.PRIMARY_STEREO)
        return {
            "runtime": _name(props.runtime_name),
            "runtime_version": f"{version.major}.{version.minor}.{version.patch}",
            "manifest": os.environ.get("XR_RUNTIME_JSON") or "system default",
            "system": _name(sysprops.system_name),
            "vendor_id": int(sysprops.vendor_id),
            "opengl": enabled,
            "eyes": [{
                "recommended": [int(v.recommended_image_rect_width),
                                int(v.recommended_image_rect_height)],
                "max": [int(v.max_image_rect_width), int(v.max_image_rect_height)],
            } for v in views],
        }
    finally:
        xr.destroy_instance(instance)


def format_report(report: dict[str, Any]) -> str:
    eyes = report["eyes"]
    lines = [f"OpenXR runtime: {report['runtime']} {report['runtime_version']}",
             f"Manifest: {report['manifest']}",
             f"System: {report['system']}",
             f"Views: {len(eyes)}"]
    for name, eye in zip(("left", "right", "third", "fourth"), eyes, strict=False):
        w, h = eye["recommended"]
        lines.append(f"  {name} eye: {w} x {h} px (max {eye['max'][0]} x {eye['max'][1]})")
    gl = ", ".join(report["opengl"]) or "none (the XR view needs OpenGL)"
    lines.append(f"OpenGL bindings: {gl}")
    return "\n".join(lines)
