"""One module per command group of ``synthgen``; each defines ``register(subparsers)``."""
