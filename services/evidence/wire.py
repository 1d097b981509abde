"""The chunk messages of UploadItem and DownloadItem as bytes on the wire (``jitlib.wire``), so that an
item's bytes are not copied into and out of a protobuf message on their way through the service.

``chunk`` is the same field in ``UploadItemRequest`` and ``DownloadItemResponse``; a message holding only a
chunk is ``chunk_header(len(chunk)) + chunk`` on the wire, exactly what ``SerializeToString`` makes of it
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
from jitlib import wire

#: The field number of ``chunk`` (the same in both messages; checked by the tests).
CHUNK_FIELD = pb.UploadItemRequest.DESCRIPTOR.fields_by_name["chunk"].number
#: The longest header of a chunk.
HEADER_MAX = wire.HEADER_MAX


def chunk_header(length: int) -> bytes:
    """The bytes before a chunk of ``length`` bytes in a message holding only that chunk."""
    return wire.bytes_field_header(CHUNK_FIELD, length)


def read_upload_message(raw: bytes) -> pb.UploadItemRequest | memoryview:
    """UploadItem's request deserializer: a message that is one chunk and nothing else is returned as a view
    of that chunk in ``raw`` (immutable bytes, so the view never changes); anything else is parsed."""
    view = wire.bytes_field_view(raw, CHUNK_FIELD)
    return view if view is not None else pb.UploadItemRequest.FromString(raw)
