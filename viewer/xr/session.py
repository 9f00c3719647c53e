"""An OpenXR session that shows a case in the headset, one frame per :meth:`XRSession.tick`.

VTK draws both eyes side by side into an offscreen window whose OpenGL context is the
session's (no VTK OpenXR module is needed); each half is then blitted on the GPU into that
eye's swapchain image, as vtkOpenXRRenderWindow does. Teardown order matters: swapchains,
spaces and actions, session and instance all go before the GL context.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from OpenGL import GL

from sim.model import Case
from viewer.xr.eye_camera import EyeView, Fov, Pose
from viewer.xr.gl_binding import binding_for, extension_for, fell_back_to_egl
from viewer.xr.runtime import GL_EXTENSIONS, XRUnavailable, create_instance, get_system, import_xr
from viewer.xr.stereo_renderer import StereoRenderer
from viewer.xr.xr_input import ControllerFrame, ControllerInput

log = logging.getLogger(__name__)

GL_SRGB8_ALPHA8, GL_RGBA8 = 0x8C43, 0x8058
MIN_EYE_PX = 16


@dataclass
class FrameStats:
    """What the last frames cost (seconds), for the status line and the benchmark."""

    frames: int = 0
    rendered: int = 0
    last_render_s: float = 0.0  # both eyes rendered plus the copies into the swapchains
    last_render_cpu_s: float = 0.0  # the same, in CPU seconds of this process (all threads)
    render_times: list[float] = field(default_factory=list)

    def add(self, seconds: float, cpu_seconds: float = 0.0) -> None:
        self.rendered += 1
        self.last_render_s = seconds
        self.last_render_cpu_s = cpu_seconds
        self.render_times.append(seconds)
        del self.render_times[:-120]

    @property
    def fps(self) -> float:
        if not self.render_times:
            return 0.0
        return 1.0 / max(float(np.mean(self.render_times)), 1e-9)


class _Swapchain:
    def __init__(self, xr, session, fmt: int, width: int, height: int) -> None:
        self.xr, self.width, self.height = xr, width, height
        self.handle = xr.create_swapchain(session, xr.SwapchainCreateInfo(
            usage_flags=(xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT
                         | xr.SwapchainUsageFlags.TRANSFER_DST_BIT),
            format=fmt, sample_count=1, width=width, height=height, face_count=1,
            array_size=1, mip_count=1))
        self.images = xr.enumerate_swapchain_images(self.handle, xr.SwapchainImageOpenGLKHR)
        self.textures = [int(img.image) for img in self.images]

    def acquire(self) -> int:
        xr = self.xr
        index = xr.acquire_swapchain_image(self.handle, xr.SwapchainImageAcquireInfo())
        xr.wait_swapchain_image(self.handle, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION))
        return self.textures[index]

    def release(self) -> None:
        self.xr.release_swapchain_image(self.handle, self.xr.SwapchainImageReleaseInfo())

    def destroy(self) -> None:
        if self.handle is not None:
            self.xr.destroy_swapchain(self.handle)
            self.handle = None


class XRSession:
    """Instance, system, GL session, swapchains and controller actions for one headset visit.

    ``on_controllers(frame)`` is called each rendered frame with both hands' state, before
    the eyes are drawn, so grabs show in the same frame.
    """

    def __init__(self, case: Case | None = None, resolution_scale: float = 1.0,
                 capture: bool = False) -> None:
        self.xr = xr = import_xr()
        self.capture = capture
        self.eye_images: list[np.ndarray] = []  # read back from the swapchains when capturing
        self.stats = FrameStats()
        self.state = xr.SessionState.UNKNOWN
        self.running = False
        self.ended = False
        self.head: Pose | None = None
        self.eyes: list[EyeView] = []
        self.on_controllers: Callable[[ControllerFrame], None] | None = None
        self.on_first_head_pose: Callable[[Pose], None] | None = None
        self.stereo: StereoRenderer | None = None
        self.instance = self.session = self.space = self.input = None
        self.swapchains: list[_Swapchain] = []
        self._fbo = None
        try:
            self._start(case, resolution_scale)
        except BaseException:
            self.close()
            raise

    # -- set-up ------------------------------------------------------------------------------
    def _start(self, case: Case | None, resolution_scale: float) -> None:
        xr = self.xr
        self.instance, enabled = create_instance(list(GL_EXTENSIONS))
        if not enabled:
            raise XRUnavailable("The OpenXR runtime cannot draw with OpenGL, which the XR view needs.")
        self.system_id = get_system(xr, self.instance)
        props = xr.get_instance_properties(self.instance)
        self.runtime_name = props.runtime_name.decode(errors="replace")
        self.system_name = xr.get_system_properties(
            self.instance, self.system_id).system_name.decode(errors="replace")
        views = xr.enumerate_view_configuration_views(
            self.instance, self.system_id, xr.ViewConfigurationType.PRIMARY_STEREO)
        v = views[0]
        scale = max(float(resolution_scale), 0.05)
        self.eye_size = (
            int(min(max(v.recommended_image_rect_width * scale, MIN_EYE_PX), v.max_image_rect_width)),
            int(min(max(v.recommended_image_rect_height * scale, MIN_EYE_PX), v.max_image_rect_height)))

        self.stereo = self._make_stereo()
        needed = extension_for(self.stereo.render_window)
        if needed not in enabled:
            raise XRUnavailable(f"The OpenXR runtime does not offer {needed}, which VTK's "
                                f"OpenGL context here needs.")
        if "XR_KHR_opengl_enable" in enabled:  # the spec requires asking before the session
            xr.get_opengl_graphics_requirements_khr(self.instance, self.system_id)
        self.binding = binding_for(self.stereo.render_window)
        try:
            self.session = xr.create_session(self.instance, xr.SessionCreateInfo(
                system_id=self.system_id, next=self.binding.pointer))
        except xr.XrException as exc:
            raise XRUnavailable(f"The OpenXR runtime could not start a session: {exc}.") from None
        self.space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
            reference_space_type=xr.ReferenceSpaceType.LOCAL,
            pose_in_reference_space=xr.Posef()))
        formats = list(xr.enumerate_swapchain_formats(self.session))
        fmt = next((f for f in (GL_SRGB8_ALPHA8, GL_RGBA8) if f in formats), None)
        if fmt is None:
            raise XRUnavailable("The OpenXR runtime offers no 8-bit RGBA swapchain format.")
        self.swapchains = [_Swapchain(xr, self.session, fmt, *self.eye_size) for _ in views]
        self.stereo.render_window.MakeCurrent()
        self._fbo = int(GL.glGenFramebuffers(1))
        self.input = ControllerInput(xr, self.instance, self.session)
        if case is not None:
            self.stereo.set_case(case)
        log.info("XR session on %s (%s), %d x %d per eye", self.runtime_name, self.system_name,
                 *self.eye_size)

    def _make_stereo(self) -> StereoRenderer:
        """The offscreen two-eye window, on the same window system as the rest of the app."""
        for _attempt in range(3):
            stereo = StereoRenderer(self.eye_size, off_screen=True)
            stereo.render()  # realise the window and its OpenGL context
            if not fell_back_to_egl(stereo.render_window):
                return stereo
            stereo.close()  # a passing X hiccup (a busy server): try again
            time.sleep(0.5)
        raise XRUnavailable(f"Cannot open an OpenGL window on the X display "
                            f"{os.environ.get('DISPLAY')} for the headset view.")

    # -- the frame loop ----------------------------------------------------------------------
    def _poll_events(self) -> None:
        xr = self.xr
        while True:
            try:
                event = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                return
            kind = xr.StructureType(event.type)
            if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                changed = ctypes.cast(ctypes.byref(event),
                                      ctypes.POINTER(xr.EventDataSessionStateChanged)).contents
                self.state = xr.SessionState(changed.state)
                log.debug("XR session state %s", self.state.name)
                if self.state == xr.SessionState.READY:
                    xr.begin_session(self.session, xr.SessionBeginInfo(
                        xr.ViewConfigurationType.PRIMARY_STEREO))
                    self.running = True
                elif self.state == xr.SessionState.STOPPING:
                    xr.end_session(self.session)
                    self.running = False
                elif self.state in (xr.SessionState.EXITING, xr.SessionState.LOSS_PENDING):
                    self.ended = True
            elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                self.ended = True

    def tick(self) -> bool:
        """Process events and run at most one frame. False once the session is over."""
        if self.ended or self.session is None:
            return False
        self._poll_events()
        if self.ended:
            return False
        if not self.running:
            return True
        xr = self.xr
        frame_state = xr.wait_frame(self.session)
        xr.begin_frame(self.session)
        layers = []
        layer = None
        if frame_state.should_render:
            layer = self._render_frame(frame_state.predicted_display_time)
            if layer is not None:
                layers.append(ctypes.byref(layer))
        xr.end_frame(self.session, xr.FrameEndInfo(
            display_time=frame_state.predicted_display_time,
            environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE, layers=layers))
        self.stats.frames += 1
        return True

    def _render_frame(self, display_time):
        xr = self.xr
        view_state, views = xr.locate_views(self.session, xr.ViewLocateInfo(
            view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO,
            display_time=display_time, space=self.space))
        valid = xr.ViewStateFlags.POSITION_VALID_BIT | xr.ViewStateFlags.ORIENTATION_VALID_BIT
        if (view_state.view_state_flags & valid) != valid:
            return None
        self.eyes = [EyeView(Pose.from_xr(v.pose), Fov.from_xr(v.fov)) for v in views]
        head = Pose((self.eyes[0].pose.position + self.eyes[1].pose.position) / 2.0,
                    self.eyes[0].pose.orientation)
        if self.head is None and self.on_first_head_pose is not None:
            self.on_first_head_pose(head)
        self.head = head
        if self.on_controllers is not None:
            self.on_controllers(self.input.read(self.space, display_time))
        start, start_cpu = time.perf_counter(), time.process_time()
        self.stereo.render(self.eyes)
        projection_views = (xr.CompositionLayerProjectionView * len(views))()
        captured = []
        for i, (view, chain) in enumerate(zip(views, self.swapchains, strict=True)):
            texture = chain.acquire()
            captured.append(self._copy_eye(i, texture))
            chain.release()
            pv = projection_views[i]
            pv.type = xr.StructureType.COMPOSITION_LAYER_PROJECTION_VIEW
            pv.pose, pv.fov = view.pose, view.fov
            pv.sub_image.swapchain = chain.handle
            pv.sub_image.image_rect.offset.x = pv.sub_image.image_rect.offset.y = 0
            pv.sub_image.image_rect.extent.width = chain.width
            pv.sub_image.image_rect.extent.height = chain.height
        self.stats.add(time.perf_counter() - start, time.process_time() - start_cpu)
        if self.capture:
            self.eye_images = captured
        self._layer_views = projection_views  # the layer points into this array
        return xr.CompositionLayerProjection(space=self.space, views=projection_views)

    def _copy_eye(self, eye: int, texture: int) -> np.ndarray | None:
        """Blit one half of VTK's framebuffer into a swapchain texture (GPU to GPU)."""
        rw = self.stereo.render_window
        rw.MakeCurrent()
        state = rw.GetState()
        state.PushFramebufferBindings()
        scissor = GL.glIsEnabled(GL.GL_SCISSOR_TEST)
        srgb = GL.glIsEnabled(GL.GL_FRAMEBUFFER_SRGB)
        try:
            GL.glDisable(GL.GL_SCISSOR_TEST)
            GL.glDisable(GL.GL_FRAMEBUFFER_SRGB)  # copy VTK's display values as they are
            w, h = self.eye_size
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, rw.GetDisplayFramebuffer().GetFBOIndex())
            GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0)
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self._fbo)
            GL.glFramebufferTexture2D(GL.GL_DRAW_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0,
                                      GL.GL_TEXTURE_2D, texture, 0)
            GL.glDrawBuffers(1, [GL.GL_COLOR_ATTACHMENT0])
            x0 = eye * w
            GL.glBlitFramebuffer(x0, 0, x0 + w, h, 0, 0, w, h, GL.GL_COLOR_BUFFER_BIT,
                                 GL.GL_NEAREST)
            image = None
            if self.capture:
                GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._fbo)
                GL.glFramebufferTexture2D(GL.GL_READ_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0,
                                          GL.GL_TEXTURE_2D, texture, 0)
                GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0)
                raw = GL.glReadPixels(0, 0, w, h, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
                image = np.frombuffer(raw, np.uint8).reshape(h, w, 4)[::-1, :, :3].copy()
            GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0,
                                      GL.GL_TEXTURE_2D, 0, 0)
            return image
        finally:
            if scissor:
                GL.glEnable(GL.GL_SCISSOR_TEST)
            if srgb:
                GL.glEnable(GL.GL_FRAMEBUFFER_SRGB)
            state.PopFramebufferBindings()

    # -- ending ------------------------------------------------------------------------------
    def request_exit(self) -> None:
        """Ask the runtime to end the session; :meth:`tick` returns False once it has."""
        if self.session is not None and self.running:
            try:
                self.xr.request_exit_session(self.session)
            except self.xr.XrException:
                self.ended = True
        else:
            self.ended = True

    def run_until_ended(self, timeout_s: float = 5.0) -> None:
        self.request_exit()
        deadline = time.monotonic() + timeout_s
        while self.tick() and time.monotonic() < deadline:
            pass

    def close(self) -> None:
        """Destroy everything in the order the runtime needs (GL context last)."""
        xr = self.xr
        self.on_controllers = self.on_first_head_pose = None  # no cycles back to the view
        if self.stereo is not None:
            self.stereo.render_window.MakeCurrent()
        if self._fbo is not None:
            GL.glDeleteFramebuffers(1, [self._fbo])
            self._fbo = None
        for chain in self.swapchains:
            chain.destroy()
        self.swapchains = []
        if self.input is not None:
            self.input.destroy()
            self.input = None
        if self.space is not None:
            xr.destroy_space(self.space)
            self.space = None
        if self.session is not None:
            if self.running:
                with contextlib.suppress(xr.XrException):
                    xr.end_session(self.session)
                self.running = False
            xr.destroy_session(self.session)
            self.session = None
        if self.instance is not None:
            xr.destroy_instance(self.instance)
            self.instance = None
        if self.stereo is not None:
            self.stereo.close()
            self.stereo = None
        self.ended = True

    def __enter__(self) -> XRSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
