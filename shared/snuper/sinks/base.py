"""The one protocol every storage backend implements, and the registry that builds them by name."""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from snuper.ids import IdError, IdField, check_id
from snuper.model import LastPrice, Record, Snapshot

if TYPE_CHECKING:
    from snuper.config import SinkSettings


class SinkError(OSError):
    """A sink cannot store or read; the message names the path or target. `permanent`: retrying
    cannot help (no permission, a read-only file system, a name too long), as opposed to a full
    disk or a server that is down, which may recover."""

    def __init__(self, message: str, *, permanent: bool = False, stored: int = 0) -> None:
        super().__init__(message)
        self.permanent = permanent
        # Of a batch that failed part-way, the records that reached storage whole (not durable
        # until a later flush): a loss count must not include them.
        self.stored = stored


# errno values that no retry will fix; everything else (ENOSPC, EIO, a connection) may recover.
PERMANENT_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR,
     errno.EINVAL, errno.ELOOP}
)  # fmt: skip


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in PERMANENT_ERRNOS


def checked_id(field: IdField, value: object, target: str) -> str:
    """A valid id for a key or row of `target` ("a Redis key"...), else SinkError, permanent:
    no retry makes a bad id a good one."""
    try:
        return check_id(field, value)
    except IdError as exc:
        raise SinkError(f"refusing {target} with {exc}", permanent=True) from None


def mislabelled(snapshot: Snapshot, named: tuple[str, str, str], where: str) -> str | None:
    """Why a stored snapshot cannot be used when it holds another provider/league/slate than
    its name (`named`) says; None when it holds what it says."""
    held = (snapshot.provider, snapshot.league, snapshot.slate_date)
    if held == named:
        return None
    return (
        f"cannot use snapshot {where}: it holds {'/'.join(held)}, its name says {'/'.join(named)}"
    )


class SinkBusy(SinkError):
    """Another monitor holds the provider and league (its pid in the message)."""


class SinkConfigError(ValueError):
    """A sink cannot be built from the settings given; `flag` names the option to fix."""

    def __init__(self, flag: str, problem: str) -> None:
        # A value from the environment names its variable; one from a flag, the flag.
        where = f"argument {flag}" if flag.startswith("-") else f"environment variable {flag}"
        super().__init__(f"{where}: {problem}")
        self.flag = flag
        self.problem = problem


@dataclass(slots=True)
class LoadedSnapshots:
    """What `load_snapshots` found: the latest snapshot per league, and the leagues whose latest
    snapshot exists but cannot be read (league -> one line saying why)."""

    snapshots: list[Snapshot] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)


class Sink(Protocol):
    name: ClassVar[str]  # the registry name, used in logs and loss reports
    # May several threads call this sink at once? The engine serialises calls either way, but a
    # sink shared by other code says here whether it needs to.
    thread_safe: ClassVar[bool]

    # Does it keep the provider's raw messages? Only then does the engine make RawMessage
    # records (once per message and event it changed) and pass them in write_updates.
    @property
    def wants_raw(self) -> bool: ...

    def save_snapshot(self, snapshot: Snapshot, *, overwrite: bool = False) -> bool:
        """Store a snapshot; False (and nothing written) when a readable one exists and
        overwrite is off. An existing snapshot that cannot be read is replaced (and said so)."""
        ...

    def load_snapshots(
        self, provider: str, leagues: Sequence[str], slate: str | None = None
    ) -> LoadedSnapshots:
        """Per league, the snapshot of `slate`, else the newest earlier one (never a later
        one); without `slate`, the newest."""
        ...

    def claim(self, provider: str, league: str) -> None:
        """Hold the provider and league for this monitor until close; SinkBusy (naming the
        holder) when another monitor holds them, so no record is written twice."""
        ...

    def last_prices(self, snapshot: Snapshot) -> list[LastPrice]:
        """The last price recorded per event, market and side of the snapshot's events (none
        before the first run): a restarted monitor resumes from them."""
        ...

    def write_updates(self, records: Sequence[Record]) -> None:
        """Store odds updates and heartbeats (called off the receive loop, in batches). A batch
        that failed may be passed again, the same object: nothing of it is stored twice."""
        ...

    def flush(self, *, final: bool = False) -> None:
        """Called on the engine's cadence while records arrive, and with final=True at shutdown.
        The sink owns its policy: it may write on size or age instead of every call, but after a
        final flush everything written so far is durable."""
        ...

    def close(self) -> None:
        """Final flush, then release files and connections."""
        ...

    def read_event(
        self, provider: str, league: str, slate_date: str, event_id: str
    ) -> list[Record]:
        """One event's stored odds updates and heartbeats, in the order written (raw
        messages are not included); empty when none are stored."""
        ...

    def describe(self, snapshot: Snapshot) -> str:
        """Where a snapshot goes, for log lines."""
        ...


def unfinished(sink: Sink) -> list[str]:
    """After close, one line per part of a sink's job left for the next run (a fanout's spill
    file of a sink still down); sinks without such a state have none."""
    report = getattr(sink, "unfinished", None)
    return list(report()) if callable(report) else []


SinkFactory = Callable[["SinkSettings"], Sink]


def _fs(settings: SinkSettings) -> Sink:
    from snuper.sinks.fs import build

    return build(settings)


def _rds(settings: SinkSettings) -> Sink:
    from snuper.sinks.rds import build

    return build(settings)


def _cache(settings: SinkSettings) -> Sink:
    from snuper.sinks.cache import build

    return build(settings)


def _s3(settings: SinkSettings) -> Sink:
    from snuper.sinks.s3 import build

    return build(settings)


# name -> factory; each backend is imported only when chosen (the others pull in drivers).
SINKS: dict[str, SinkFactory] = {"fs": _fs, "rds": _rds, "cache": _cache, "s3": _s3}


def build_sink(name: str, settings: SinkSettings) -> Sink:
    """The sink registered as `name`, built from settings; SinkConfigError names a bad flag."""
    factory = SINKS.get(name)
    if factory is None:
        raise SinkConfigError("--sink", f"unknown sink {name!r} (choose from {', '.join(SINKS)})")
    return factory(settings)
