"""Model-credibility evidence and report in the shape of ASME V&V 40 (credibility factors,
model risk) and the FDA's reporting guidance: code verification run now, calculation
verification of the user's model (mesh refinement, Richardson extrapolation, GCI), uncertainty
quantification from a sweep, limitations and provenance. See :mod:`sim.credibility.spec`."""
