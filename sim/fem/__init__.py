"""Finite-element engine (headless): bodies, materials, solvers, results.

- :mod:`sim.fem.body` - :class:`Body` (mesh + material): forces, tangents, mass for the
  linear, co-rotational and neo-Hookean laws on P1/P2 tetrahedra.
- :mod:`sim.fem.problem` - constraints, loads and :class:`ForceContributor` (contact plugs in here).
- :mod:`sim.fem.static`, :mod:`sim.fem.dynamic` - linear / Newton static and backward-Euler solvers.
- :mod:`sim.fem.interactive` - real-time co-rotational stepping for P1 bodies.
- :mod:`sim.fem.results`, :mod:`sim.fem.embedding` - stresses, probes, VTU output, visual mapping.
- :mod:`sim.fem.spec`, :mod:`sim.fem.analysis` - analysis spec files behind ``twinsight fem solve``.
"""
