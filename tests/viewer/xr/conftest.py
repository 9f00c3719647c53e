"""A real OpenXR runtime for the XR tests: Monado built by packaging/build-monado.sh.

The build is cached outside the repository, so after the first time the script just prints
the manifest. Tests skip (with the script's own reason) only if it cannot be built here.
"""

from tests.viewer.xr.xr_helpers import monado_manifest  # noqa: F401 - the fixture
