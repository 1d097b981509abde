"""Developer tooling for the JIT platform (local services for `make run` and the tests)."""
