"""One module per file format; each registers itself with :func:`sim.io.registry.reader`."""
