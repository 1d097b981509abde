"""Shared runtime of the JIT platform services.

Layers (see ARCHITECTURE.md in the repository root): services import jitlib and the generated
stubs in ``jit``; jitlib never imports a service.
"""
