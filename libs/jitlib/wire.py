"""A protobuf message that holds one bytes field and nothing else, as bytes on the wire: the field's tag
(its number, wire type 2: length-delimited), the length as a varint, then the bytes. Large payloads (an
evidence item's chunks, both ways) are sent and received in this form by the service and the CLI, so that
a MiB is not copied into a message and out of it again on its way (``services/evidence/wire.py``; the
tests compare every form with what protobuf itself serializes and parses)."""

from __future__ import annotations

#: The longest header: a one-byte tag (field numbers up to 15) and a varint of up to 5 bytes.
HEADER_MAX = 6


def _varint(n: int) -> bytes:
    """``n`` as a protobuf varint: 7 bits per byte, least significant first, the high bit set on all but
    the last (protobuf's Python API has no public encoder)."""
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _tag(field: int) -> bytes:
    if not 1 <= field <= 15:
        raise ValueError("only fields 1 to 15 have a one-byte tag")
    return bytes([field << 3 | 2])


def bytes_field_header(field: int, length: int) -> bytes:
    """The bytes before a payload of ``length`` bytes in a message holding only field ``field``."""
    return _tag(field) + _varint(length)


def bytes_field_view(raw: bytes, field: int) -> memoryview | None:
    """The payload of ``raw`` as a read-only view into it (no copy) when ``raw`` is a message holding only
    the bytes field ``field``, in its usual (shortest) encoding; else None (parse it with protobuf)."""
    if raw[:1] != _tag(field):
        return None
    for size in range(2, HEADER_MAX + 1):  # the tag and 1..5 bytes of length
        length = len(raw) - size
        if length >= 0 and raw[1:size] == _varint(length):
            return memoryview(raw)[size:]
    return None
