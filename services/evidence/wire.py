"""The chunk messages of UploadItem and DownloadItem as bytes on the wire, so that an item's bytes are not
copied into and out of a protobuf message on their way through the service.

A message whose only field is ``chunk`` (field 2 of ``UploadItemRequest`` and ``DownloadItemResponse``,
length-delimited) is, on the wire, the field's tag, the chunk's length as a varint, then the chunk:
``chunk_header(n) + chunk`` is exactly what ``SerializeToString`` makes of ``DownloadItemResponse(chunk=...)``
(tests/unit/test_evidence_wire.py compares the two for every boundary of the varint). So:

- ``read_upload_message`` is UploadItem's request deserializer: a chunk message is answered as a read-only
  view of the chunk inside the received bytes (no parse, no copy); any other message (the metadata, or one
  this shortcut does not recognise) is parsed by protobuf as before.
- the blob store writes each decrypted segment of a download behind ``chunk_header`` in one buffer, and the
  servicer sends those bytes as the serialized ``DownloadItemResponse`` (the server's response serializer
  passes bytes through, ``jitlib.server``).
"""

from __future__ import annotations

from jit.evidence.v1 import evidence_pb2 as pb

#: Field 2 (``chunk``), wire type 2 (length-delimited), in both messages.
CHUNK_TAG = bytes([2 << 3 | 2])
#: The longest header of a chunk: the tag and a varint of up to 5 bytes (lengths below 2**35).
HEADER_MAX = 6


def _varint(n: int) -> bytes:
    """``n`` as a protobuf varint: 7 bits per byte, least significant first, the high bit set on all but
    the last (protobuf's Python API has no public encoder; checked against ``SerializeToString``)."""
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def chunk_header(length: int) -> bytes:
    """The bytes before a chunk of ``length`` bytes in a message holding only that chunk."""
    return CHUNK_TAG + _varint(length)


def read_upload_message(raw: bytes) -> pb.UploadItemRequest | memoryview:
    """UploadItem's request deserializer: a message that is one chunk and nothing else is returned as a view
    of that chunk in ``raw`` (immutable bytes, so the view never changes); anything else is parsed."""
    if raw[:1] == CHUNK_TAG:
        for size in range(2, HEADER_MAX + 1):  # the tag and 1..5 bytes of length
            length = len(raw) - size
            if length >= 0 and raw[1:size] == _varint(length):
                return memoryview(raw)[size:]
    return pb.UploadItemRequest.FromString(raw)
