"""The archive's segment format: every message a monitor received, kept once, in order.

A segment is one gzip stream (one member) of entries. Each entry is an 18-byte header and its
payload, so a reader finds every boundary without the book's framing:

    kind     1 byte   H header, C connection opened, S sent by us, R received
    text     1 byte   1 when the payload was a text frame (str), 0 for bytes
    conn     4 bytes  the monitor's connection number (1 for its first), big-endian
    at_us    8 bytes  receive time, microseconds since the epoch (UTC), big-endian, signed
    length   4 bytes  payload bytes, big-endian

Entry 0 is the header: JSON naming the provider, league, slate and when the segment opened.
A record points at its message by `<segment name>#<entry index>` (its `raw_ref`).

The writer flushes the compressor (Z_SYNC_FLUSH) after every batch, so the bytes on disk always
decompress up to the last whole batch; a killed monitor leaves a segment without the gzip
trailer, which read_segment reads up to its last whole entry and reports as truncated.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import orjson

FORMAT = 1
SUFFIX: Final = ".raw.gz"
Kind = Literal["H", "C", "S", "R"]
HEADER: Final[Kind] = "H"
CONNECT: Final[Kind] = "C"
SENT: Final[Kind] = "S"
RECEIVED: Final[Kind] = "R"
_ENTRY: Final = struct.Struct(">ccIqI")
_KINDS: Final[dict[bytes, Kind]] = {b"H": HEADER, b"C": CONNECT, b"S": SENT, b"R": RECEIVED}
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US: Final = timedelta(microseconds=1)
# <slate>_<opened, UTC to the second>Z_<run>_<part>: names sort in the order they were written.
_NAME: Final = re.compile(r"^(\d{8})_(\d{8}T\d{6})Z_([0-9a-z]{1,16})_(\d{4,})$")


class SegmentError(ValueError):
    """A segment name, header or entry that is not this format's; the message says which."""


def micros(moment: datetime) -> int:
    """A zoned datetime as whole microseconds since the epoch (exact, no float rounding)."""
    return (moment - EPOCH) // ONE_US


def moment(at_us: int) -> datetime:
    return EPOCH + timedelta(microseconds=at_us)


def encode_entry(kind: Kind, conn: int, at_us: int, payload: bytes | str) -> bytes:
    text = isinstance(payload, str)
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    return _ENTRY.pack(kind.encode(), b"\x01" if text else b"\x00", conn, at_us, len(body)) + body


def segment_name(slate: str, opened: datetime, run: str, part: int) -> str:
    return f"{slate}_{opened.astimezone(UTC):%Y%m%dT%H%M%S}Z_{run}_{part:04d}"


@dataclass(frozen=True, slots=True)
class SegmentName:
    slate: str
    opened: str
    run: str
    part: int

    @classmethod
    def parse(cls, name: str) -> SegmentName:
        found = _NAME.match(name.removesuffix(SUFFIX))
        if found is None:
            raise SegmentError(f"not a segment name: {name!r}")
        slate, opened, run, part = found.groups()
        return cls(slate, opened, run, int(part))


def split_ref(ref: str) -> tuple[str, int]:
    """'<segment>#<index>' -> (segment name, entry index); SegmentError if it is not one."""
    name, sep, index = ref.rpartition("#")
    if not sep or not index.isdigit():
        raise SegmentError(f"not a raw_ref (expected <segment>#<index>): {ref!r}")
    SegmentName.parse(name)
    return name, int(index)


def header_payload(provider: str, league: str, slate: str, opened: datetime) -> bytes:
    return orjson.dumps({"format": FORMAT, "provider": provider, "league": league,
                         "slate": slate, "opened": opened.astimezone(UTC).isoformat()})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Entry:
    index: int
    kind: Kind
    conn: int
    at_us: int
    payload: bytes | str

    @property
    def received(self) -> datetime:
        return moment(self.at_us)


@dataclass(frozen=True, slots=True)
class Segment:
    """A segment as read: its header, whole entries in order, and why it ends early (None when
    it was closed properly)."""

    name: str
    header: dict[str, Any]
    entries: tuple[Entry, ...]
    truncated: str | None = None


def _inflate(data: bytes) -> tuple[bytes, str | None]:
    """Decompress what can be: a stream without its trailer (a killed writer) or with a bad
    byte gives the bytes before it, and says so."""
    inflater = zlib.decompressobj(wbits=31)
    out: list[bytes] = []
    step = 1 << 16
    try:
        for start in range(0, len(data), step):
            out.append(inflater.decompress(data[start : start + step]))
            if inflater.eof:
                break
        out.append(inflater.flush())
    except zlib.error as exc:
        return b"".join(out), f"the compressed stream is damaged ({exc})"
    if not inflater.eof:
        return b"".join(out), "the segment was not closed (its writer stopped mid-segment)"
    return b"".join(out), None


def _entries(raw: bytes) -> Iterator[Entry | str]:
    """The whole entries of `raw`; a last string says what was left over."""
    pos, index, size = 0, 0, _ENTRY.size
    while pos < len(raw):
        if len(raw) - pos < size:
            yield f"{len(raw) - pos} bytes of a partial entry header at the end"
            return
        kind, text, conn, at_us, length = _ENTRY.unpack_from(raw, pos)
        name = _KINDS.get(kind)
        if name is None or text not in (b"\x00", b"\x01"):
            yield f"an unknown entry kind {kind!r} at byte {pos}"
            return
        end = pos + size + length
        if end > len(raw):
            yield f"a partial message at the end ({len(raw) - pos - size} of {length} bytes)"
            return
        body = raw[pos + size : end]
        payload: bytes | str = body.decode() if text == b"\x01" else body
        yield Entry(index, name, conn, at_us, payload)
        pos, index = end, index + 1


def read_segment(name: str, data: bytes) -> Segment:
    """Every whole entry of a segment's bytes; SegmentError when not even its header is."""
    raw, problem = _inflate(data)
    entries: list[Entry] = []
    leftover = None
    for item in _entries(raw):
        if isinstance(item, str):
            leftover = item
        else:
            entries.append(item)
    if not entries or entries[0].kind != HEADER:
        raise SegmentError(f"{name}: no segment header ({problem or leftover or 'empty'})")
    try:
        header = orjson.loads(entries[0].payload)
    except orjson.JSONDecodeError as exc:
        raise SegmentError(f"{name}: unreadable segment header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SegmentError(f"{name}: not a format {FORMAT} segment header")
    why = "; ".join(p for p in (problem, leftover) if p) or None
    if why is not None:
        why = f"read up to its last whole message (entry {entries[-1].index}): {why}"
    return Segment(name, header, tuple(entries[1:]), why)
