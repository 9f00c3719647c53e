"""The bundled demo case: a digital phantom this project generates itself."""

from sim.demo.phantom import Phantom, build_demo_case, make_phantom

__all__ = ["Phantom", "build_demo_case", "make_phantom"]
