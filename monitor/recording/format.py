"""The recording file format: a header, then one record per server message as it arrived.

Layout (all integers big-endian):

    magic        8 bytes  b"\\x89MONREC\\n" (the high byte and newline catch text-mode mangling)
    header_len   4 bytes  unsigned
    header       header_len bytes of UTF-8 JSON (Header)
    record*      receive_ns (8 bytes, signed: the recorder clock's epoch nanoseconds)
                 length (protobuf varint) and that many bytes of a serialized MarketDataResponse

A record is complete or it is the cut: a reader stops at the first record it cannot read whole.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

MAGIC = b"\x89MONREC\n"
FORMAT_VERSION = 1
CONTRACT_PACKAGE = "tinkoff.public.invest.api.contract.v1"
MESSAGE_TYPE = "MarketDataResponse"
MAX_HEADER_BYTES = 1 << 20
MAX_MESSAGE_BYTES = 64 << 20
"""Larger than any message the client accepts (a hostile 9 MiB ping included): a longer length
is a corrupt file, not a message."""

_HEADER_LEN = struct.Struct(">I")
_RECEIVED = struct.Struct(">q")
RECEIVED_SIZE = _RECEIVED.size


class RecordingError(ValueError):
    """The file is not a recording this version can read; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """One recorded series as the user named it."""

    id: str
    interval: str


@dataclass(frozen=True, slots=True)
class Header:
    """What a recording says about itself."""

    subscriptions: tuple[Subscription, ...]
    started_at: float
    """Wall time (epoch seconds) the recording was opened."""
    clock_speed: float = 1.0
    """Recorder clock seconds per wall second (>1 when recorded against `monitor sim --speed N`
    with `--sim-speed N`): receive times are on that clock, so replay divides by it."""
    version: int = FORMAT_VERSION
    contract: str = CONTRACT_PACKAGE
    message: str = MESSAGE_TYPE
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields a newer writer added that this version does not know (kept, not interpreted)."""


def encode_header(header: Header) -> bytes:
    """The magic, the length and the JSON of `header`."""
    fields = asdict(header)
    extra = fields.pop("extra")
    body = json.dumps({**extra, **fields}, ensure_ascii=False, separators=(",", ":")).encode()
    return MAGIC + _HEADER_LEN.pack(len(body)) + body


def decode_header(data: bytes) -> tuple[Header, int]:
    """The header at the start of `data` and the offset of the first record.

    Raises:
        RecordingError: not a recording, a newer format version, or a damaged header.
    """
    if not data.startswith(MAGIC):
        raise RecordingError("not a monitor recording (no recording header)")
    start = len(MAGIC) + _HEADER_LEN.size
    if len(data) < start:
        raise RecordingError(f"the file is cut inside its header (at byte {len(data)})")
    (length,) = _HEADER_LEN.unpack_from(data, len(MAGIC))
    if length > MAX_HEADER_BYTES:
        raise RecordingError(f"the header claims {length} bytes: a damaged file")
    if len(data) < start + length:
        raise RecordingError(f"the file is cut inside its header (at byte {len(data)})")
    try:
        raw = json.loads(data[start : start + length].decode())
        if not isinstance(raw, dict):
            raise TypeError("not an object")
        version = int(raw.pop("version"))
        if version > FORMAT_VERSION:
            raise RecordingError(
                f"recording format {version} is newer than this monitor reads ({FORMAT_VERSION})"
            )
        subscriptions = tuple(
            Subscription(str(s["id"]), str(s["interval"])) for s in raw.pop("subscriptions")
        )
        header = Header(
            subscriptions=subscriptions,
            started_at=float(raw.pop("started_at")),
            clock_speed=float(raw.pop("clock_speed", 1.0)),
            version=version,
            contract=str(raw.pop("contract", CONTRACT_PACKAGE)),
            message=str(raw.pop("message", MESSAGE_TYPE)),
            extra=raw,
        )
    except RecordingError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise RecordingError(f"the recording header is damaged ({type(exc).__name__})") from None
    if header.contract != CONTRACT_PACKAGE or header.message != MESSAGE_TYPE:
        raise RecordingError(f"the recording holds {header.contract}.{header.message}, not {MESSAGE_TYPE}")
    if not header.clock_speed > 0:
        raise RecordingError("the recording header is damaged (clock_speed)")
    return header, start + length


def encode_record(received_at: float, payload: bytes) -> bytes:
    """One record: the receive time, the varint length and the message bytes."""
    return _RECEIVED.pack(round(received_at * 1e9)) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_record(data: bytes, offset: int) -> tuple[float, bytes, int] | None:
    """(receive time, message bytes, next offset) of the record at `offset`; None when the data
    ends before the record does (the cut). A length beyond MAX_MESSAGE_BYTES raises RecordingError."""
    at = offset + RECEIVED_SIZE
    if at > len(data):
        return None
    (received_ns,) = _RECEIVED.unpack_from(data, offset)
    length = shift = 0
    while True:
        if at >= len(data):
            return None
        byte = data[at]
        at += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 35:
            raise RecordingError(f"damaged record length at byte {offset}")
    if length > MAX_MESSAGE_BYTES:
        raise RecordingError(f"damaged record length at byte {offset}")
    if at + length > len(data):
        return None
    return received_ns / 1e9, data[at : at + length], at + length
