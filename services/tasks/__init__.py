"""Tasks service: cross-border tasks inside a JIT workspace (jit.tasks.v1)."""
