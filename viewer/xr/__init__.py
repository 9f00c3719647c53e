"""The OpenXR headset view: stereo rendering of the live scene, head tracking, controllers.

- :mod:`viewer.xr.runtime`: is there a runtime (``twinsight xr --check``).
- :mod:`viewer.xr.session`: the OpenXR session sharing VTK's OpenGL context.
- :mod:`viewer.xr.eye_camera`: per-eye cameras and the scene's placement (mm <-> m).
- :mod:`viewer.xr.stereo_renderer`: both eyes side by side, actors shared with the model.
- :mod:`viewer.xr.interaction`, :mod:`viewer.xr.overlay`: hands, rays, text panel.
- :mod:`viewer.xr.headset` / :mod:`viewer.xr.xr_view`: one frame per GUI-timer tick.
- :mod:`viewer.xr.preview`: the headset-free side-by-side stereo preview.
"""
