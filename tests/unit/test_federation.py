"""``jitlib.federation``: what a node's federation streams keep, and for how long."""

from __future__ import annotations

from jitlib.federation import INBOUND_STREAM, Federation


def test_what_peers_sent_ages_out_of_jit_in_as_what_the_owner_sent_ages_out_of_jit_out() -> None:
    """A peer's record states and message texts do not stay on this node's JIT_IN for good: they age out
    after JIT_FEDERATION_RETENTION_DAYS, as the README says, like the owner's copies in JIT_OUT_<NODE>."""
    fed = Federation.parse("DE", "NL,IE", retention_days=30)
    assert fed is not None
    outbound, inbound = fed.streams()
    assert inbound.name == INBOUND_STREAM
    assert outbound.max_age == inbound.max_age == 30 * 86400.0
