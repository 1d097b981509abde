"""The victims service: victims as pseudonymous references, their sealed identity and information rights."""
