"""The ``jit`` command-line client."""
