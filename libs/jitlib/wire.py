"""Protobuf messages written as bytes, where making them as messages would cost more than the bytes.

- A message that holds one bytes field and nothing else: the field's tag (its number, wire type 2:
  length-delimited), the length as a varint, then the bytes. Large payloads (an evidence item's chunks,
  both ways) are sent and received in this form by the service and the CLI, so that a MiB is not copied
  into a message and out of it again on its way (``services/evidence/wire.py``).
- A List response of records kept serialized (``jitlib.answers``): each record's stored bytes with the
  fields the call adds (``ListWire``). A message's serialization is the concatenation of its fields, in
  any order, so a field appended to a serialized message is that field set in it.

The tests compare every form with what protobuf itself serializes and parses."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

#: The longest header: a one-byte tag (field numbers up to 15) and a varint of up to 5 bytes.
HEADER_MAX = 6


def varint(n: int) -> bytes:
    """``n`` (not negative) as a protobuf varint: 7 bits per byte, least significant first, the high bit set
    on all but the last (protobuf's Python API has no public encoder). The lengths of a list's fields and
    records take one or two bytes: those without the loop."""
    if n < 0x80:
        return _ONE_BYTE[n]
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


#: The varints of 0 to 127, each its one byte.
_ONE_BYTE = tuple(bytes((n,)) for n in range(0x80))


def _tag(field: int) -> bytes:
    if not 1 <= field <= 15:
        raise ValueError("only fields 1 to 15 have a one-byte tag")
    return bytes([field << 3 | 2])


def bytes_field_header(field: int, length: int) -> bytes:
    """The bytes before a payload of ``length`` bytes in a message holding only field ``field``."""
    return _tag(field) + varint(length)


def bytes_field_view(raw: bytes, field: int) -> memoryview | None:
    """The payload of ``raw`` as a read-only view into it (no copy) when ``raw`` is a message holding only
    the bytes field ``field``, in its usual (shortest) encoding; else None (parse it with protobuf)."""
    if raw[:1] != _tag(field):
        return None
    for size in range(2, HEADER_MAX + 1):  # the tag and 1..5 bytes of length
        length = len(raw) - size
        if length >= 0 and raw[1:size] == varint(length):
            return memoryview(raw)[size:]
    return None


def field_key(descriptor: Any, name: str) -> bytes:
    """The key (number and wire type) that starts field ``name`` of ``descriptor`` (a message's
    ``DESCRIPTOR``) on the wire."""
    f = descriptor.fields_by_name[name]
    length_delimited = f.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_MESSAGE)
    if f.type not in (FieldDescriptor.TYPE_BOOL, FieldDescriptor.TYPE_ENUM) and not length_delimited:
        raise ValueError(f"{descriptor.full_name}.{name}: only strings, messages, bools and enums are written here")
    return varint(f.number << 3 | (2 if length_delimited else 0))


def true(descriptor: Any, name: str) -> bytes:
    """Field ``name`` (a bool) of ``descriptor``'s message, set true."""
    return field_key(descriptor, name) + b"\x01"


def strings(descriptor: Any, name: str) -> Callable[[Iterable[str]], bytes]:
    """What writes the values of field ``name`` (a string, repeated or not) of ``descriptor``'s message."""
    key = field_key(descriptor, name)

    def write(values: Iterable[str]) -> bytes:
        out = b""
        for v in values:
            data = v.encode()
            out += key + varint(len(data)) + data
        return out

    return write


def messages(descriptor: Any, name: str) -> Callable[[bytes], bytes]:
    """What writes one serialized message as field ``name`` (a message, repeated or not) of ``descriptor``'s."""
    key = field_key(descriptor, name)

    def write(body: bytes) -> bytes:
        return key + varint(len(body)) + body

    return write


class ListWire:
    """How a page writes a List response of ``message``s around their stored answers: a field it adds to
    one (``true``, ``strings``), each record's message as an element of the response's repeated field, and
    the response."""

    def __init__(self, message: type[Message], response: type[Message], repeated: str) -> None:
        """``message``'s records in the ``response``'s field ``repeated``, then its ``next_page_token``."""
        self._message = message.DESCRIPTOR
        self.element = messages(response.DESCRIPTOR, repeated)
        self._token = field_key(response.DESCRIPTOR, "next_page_token")

    def true(self, name: str) -> bytes:
        """Field ``name`` (a bool) of a record's message, set true."""
        return true(self._message, name)

    def strings(self, name: str) -> Callable[[Iterable[str]], bytes]:
        """What writes the values of field ``name`` (strings) of a record's message."""
        return strings(self._message, name)

    def response(self, elements: Sequence[bytes], token: str) -> bytes:
        """The List response: its records' ``elements`` in order, then the next page's ``token``, if any."""
        data = token.encode()
        tail = self._token + varint(len(data)) + data if data else b""
        return b"".join(elements) + tail
