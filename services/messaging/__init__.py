"""Secure messaging service: encrypted channels and record threads (jit.messaging.v1)."""
