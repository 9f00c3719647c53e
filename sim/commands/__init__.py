"""CLI subcommands: each module here defines ``register(subparsers)``; ``sim.cli`` finds them."""
