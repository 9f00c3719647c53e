"""The OpenXR graphics binding for a VTK render window's own OpenGL context.

The session shares VTK's context (GLX under X, or EGL without a display), so VTK's
rendered eyes can be copied into the swapchain images on the GPU without a read-back.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import c_int, c_void_p, cast, pointer

import xr

from sim.errors import TwinsightError

EGL_CONFIG_ID = 0x3028
EGL_NONE = 0x3038


class GraphicsBindingError(TwinsightError):
    """VTK's OpenGL context cannot be handed to the OpenXR runtime."""


def _lib(*names: str) -> ctypes.CDLL:
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise GraphicsBindingError(f"The OpenGL library ({names[0]}) is not installed.")


class GLBinding:
    """Holds the binding structure alive for as long as the session exists."""

    extension: str
    struct: object

    @property
    def pointer(self) -> c_void_p:
        return self._pointer

    def _keep(self, struct) -> None:
        self.struct = struct
        self._pointer = cast(pointer(struct), c_void_p)


class GLXBinding(GLBinding):
    extension = "XR_KHR_opengl_enable"

    def __init__(self) -> None:
        gl = _lib("libGL.so.1", "libGLX.so.0")
        gl.glXGetCurrentContext.restype = c_void_p
        gl.glXGetCurrentDisplay.restype = c_void_p
        gl.glXGetCurrentDrawable.restype = ctypes.c_ulong
        context, display = gl.glXGetCurrentContext(), gl.glXGetCurrentDisplay()
        drawable = gl.glXGetCurrentDrawable()
        if not context or not display:
            raise GraphicsBindingError("VTK's OpenGL (GLX) context is not current.")
        binding = xr.GraphicsBindingOpenGLXlibKHR()
        binding.x_display = cast(display, type(binding.x_display))
        binding.glx_drawable = drawable
        binding.glx_context = cast(context, type(binding.glx_context))
        self._keep(binding)


class EGLBinding(GLBinding):
    extension = "XR_MNDX_egl_enable"

    def __init__(self) -> None:
        egl = _lib("libEGL.so.1")
        egl.eglGetCurrentContext.restype = c_void_p
        egl.eglGetCurrentDisplay.restype = c_void_p
        egl.eglGetProcAddress.restype = c_void_p
        egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
        egl.eglQueryContext.argtypes = [c_void_p, c_void_p, c_int, ctypes.POINTER(c_int)]
        egl.eglChooseConfig.argtypes = [c_void_p, ctypes.POINTER(c_int), ctypes.POINTER(c_void_p),
                                        c_int, ctypes.POINTER(c_int)]
        context, display = egl.eglGetCurrentContext(), egl.eglGetCurrentDisplay()
        if not context or not display:
            raise GraphicsBindingError("VTK's OpenGL (EGL) context is not current.")
        config_id = c_int(0)
        egl.eglQueryContext(display, context, EGL_CONFIG_ID, ctypes.byref(config_id))
        attribs = (c_int * 3)(EGL_CONFIG_ID, config_id.value, EGL_NONE)
        config, count = c_void_p(), c_int(0)
        egl.eglChooseConfig(display, attribs, ctypes.byref(config), 1, ctypes.byref(count))
        binding = xr.GraphicsBindingEGLMNDX()
        # The loader's own eglGetProcAddress, so the runtime resolves GL through the same EGL.
        self._get_proc = cast(ctypes.cast(egl.eglGetProcAddress, c_void_p),
                              xr.PFN_xrEglGetProcAddressMNDX)
        binding.get_proc_address = self._get_proc
        binding.display = cast(display, type(binding.display))
        binding.config = cast(config, type(binding.config)) if count.value else None
        binding.context = cast(context, type(binding.context))
        self._keep(binding)


def binding_for(render_window) -> GLBinding:
    """Make ``render_window``'s context current and describe it for ``xrCreateSession``."""
    render_window.MakeCurrent()
    name = render_window.GetClassName()
    if "EGL" in name:
        return EGLBinding()
    if "X" in name or "Generic" in name:
        return GLXBinding()
    raise GraphicsBindingError(f"VTK's {name} cannot be shared with an OpenXR runtime here.")


def fell_back_to_egl(render_window) -> bool:
    """True if VTK made an EGL window although there is an X display (it does so when the X
    connection fails). Mixing that EGL context with the GLX ones of the desktop view in one
    thread makes libglvnd refuse the next glXMakeCurrent (BadAccess), which aborts."""
    wanted = os.environ.get("VTK_DEFAULT_OPENGL_WINDOW", "")
    return (bool(os.environ.get("DISPLAY")) and "EGL" in render_window.GetClassName()
            and "EGL" not in wanted)


def extension_for(render_window) -> str:
    return EGLBinding.extension if "EGL" in render_window.GetClassName() else GLXBinding.extension
