"""Tetrahedral meshes: :class:`~sim.mesh.tetmesh.TetMesh`, quality reports, parametric
generators and surface -> volume meshing (gmsh / fTetWild, cached)."""
