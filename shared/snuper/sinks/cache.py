"""Redis: the `cache` sink (design.md §4).

Keys (every one expires --cache-ttl seconds after its last write):
    snuper:snapshots:<provider>:<league>               the newest slate's snapshot (JSON)
    snuper:snapshots:<provider>:<league>:<slate_date>  each slate's snapshot (JSON)
    snuper:snapshots:<provider>:<league>:dates         sorted set of the slates stored (score:
                                                       the date as a number): how load_snapshots
                                                       finds the newest one up to a slate
    snuper:snapshots:<provider>:leagues                set of the leagues with a snapshot
    snuper:<league>:<event_id>:selection               list: odds updates and heartbeats, one
                                                       record's JSON each, oldest first
    snuper:<league>:<event_id>:raw                     list: RawMessage JSON (the provider message
                                                       that carried the event's change, with its
                                                       received_at), once per message, oldest first
    snuper:batch:<digest>                              "1": this batch is stored (see below)
    snuper:lock:<provider>:<league>                    "<hostname>:<pid>:<uuid>" of the monitor
                                                       holding the league, expires after 60 s

Each event list keeps its newest --cache-max-items entries. A write_updates batch is one Lua
script (one round trip): it sets the batch's marker (SET NX EX) and, only if the marker was not
there, pushes, trims and re-expires the event lists. A script runs atomically, so the check and
the pushes cannot be split; the same batch passed again (a retry, a spill file replayed: the
digest is over the records' content) adds nothing while its marker lives (--cache-ttl).

A claim is SET NX EX 60, renewed (only while ours) by writes and flushes at most every 10 s and
deleted (only if ours) on close. One left by a process of this host that is gone (kill -9, or a
close while Redis was down) is taken over at once; another host's expires. Transient failures
(connection, timeout, loading, a read-only replica, out of memory) are SinkError(permanent=False);
redis-py reconnects on the next call.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import orjson
import redis
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry

from snuper.ids import IdField, is_valid_id
from snuper.model import (
    Heartbeat,
    LastPrice,
    OddsUpdate,
    RawMessage,
    Record,
    Snapshot,
    record_from_json,
    record_key,
)
from snuper.sinks.base import (
    LoadedSnapshots,
    SinkBusy,
    SinkConfigError,
    SinkError,
    checked_id,
)

if TYPE_CHECKING:
    from redis.client import Pipeline
    from redis.commands.core import Script

    from snuper.config import SinkSettings

log = logging.getLogger("snuper.sinks.cache")

URI_FLAG, TTL_FLAG, MAX_ITEMS_FLAG = "--cache-uri", "--cache-ttl", "--cache-max-items"
SCHEMES = ("redis", "rediss", "unix")
PREFIX = "snuper"
LOCK_TTL_S = 60
LOCK_RENEW_S = 10.0
# Slates remembered per league in the dates index (a year of them), so it cannot grow forever.
MAX_SLATES = 366
# Events whose lists last_prices reads per round trip (each list up to --cache-max-items).
_EVENTS_PER_READ = 32
# Key-cache entries kept before starting over (one per event; a day has a few hundred).
_CACHE_LIMIT = 4096
# Errors a later call may not meet: the server is down, loading, failing over, full.
_TRANSIENT_ERRORS = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)
# The same, when it comes back as a plain error reply (from inside a script).
_TRANSIENT_REPLIES = frozenset({"READONLY", "LOADING", "MASTERDOWN", "BUSY", "OOM", "TRYAGAIN"})

# KEYS[1]: the batch marker; KEYS[2..]: the event lists. ARGV[1]: ttl, ARGV[2]: max items, then
# per list its number of values and the values, oldest first. Types are checked before anything
# is written, so a batch is stored whole or not at all.
_WRITE_BATCH = """
for i = 2, #KEYS do
  local kind = redis.call('TYPE', KEYS[i])['ok']
  if kind ~= 'list' and kind ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. kind .. ', not a list')
  end
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
local at = 3
for i = 2, #KEYS do
  local count = tonumber(ARGV[at])
  -- unpack at most 1000 values at a time: Lua's stack is limited
  for first = at + 1, at + count, 1000 do
    redis.call('RPUSH', KEYS[i], unpack(ARGV, first, math.min(first + 999, at + count)))
  end
  redis.call('LTRIM', KEYS[i], -tonumber(ARGV[2]), -1)
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  at = at + count + 1
end
return 1
"""
# KEYS[1]: a lock; ARGV[1]: our token, ARGV[2]: its new expiry in seconds.
_RENEW_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS[1]: a lock; ARGV[1]: the token of the holder found gone, ARGV[2]: ours, ARGV[3]: expiry.
_TAKE_OVER_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return false
"""
_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


# -- keys ----------------------------------------------------------------------------------------


def snapshot_key(provider: str, league: str, slate_date: str | None = None) -> str:
    """The newest slate's snapshot, or with `slate_date` that slate's."""
    base = f"{PREFIX}:snapshots:{provider}:{league}"
    return base if slate_date is None else f"{base}:{slate_date}"


def dates_key(provider: str, league: str) -> str:
    return f"{PREFIX}:snapshots:{provider}:{league}:dates"


def leagues_key(provider: str) -> str:
    return f"{PREFIX}:snapshots:{provider}:leagues"


def selection_key(league: str, event_id: str) -> str:
    return f"{PREFIX}:{league}:{event_id}:selection"


def raw_key(league: str, event_id: str) -> str:
    return f"{PREFIX}:{league}:{event_id}:raw"


def lock_key(provider: str, league: str) -> str:
    return f"{PREFIX}:lock:{provider}:{league}"


def batch_key(records: Sequence[Record]) -> str:
    """The marker of a batch: a digest of its records' keys, in order. Content-based, so the
    same records re-made from their JSON (a spill file) have the same marker."""
    digest = hashlib.blake2b(digest_size=16)
    for record in records:
        digest.update(record_key(record).encode())
    return f"{PREFIX}:batch:{digest.hexdigest()}"


def _checked(field: IdField, value: object) -> str:
    return checked_id(field, value, "a Redis key")


# -- settings ------------------------------------------------------------------------------------


def redacted(uri: str) -> str:
    """`uri` with its password (in the user info or a ?password= parameter) shown as ***."""
    scheme, found, _ = uri.partition("://")
    if not found:  # not a URI; whatever precedes an "@" may be a secret
        return f"***@{uri.rpartition('@')[2]}" if "@" in uri else uri
    try:
        parts = urlsplit(uri)
    except ValueError:
        return f"{scheme}://***"
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    params = [
        "password=***" if param.partition("=")[0].lower() == "password" else param
        for param in parts.query.split("&")
    ]
    query = f"?{'&'.join(params)}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{scheme}://{netloc}{parts.path}{query}{fragment}"


def check_uri(uri: str | None) -> str:
    """`uri` when redis-py can use it (redis://, rediss:// or unix://, a numeric port and db),
    else SinkConfigError naming --cache-uri. Pure: nothing is connected."""
    if not uri:
        raise SinkConfigError(URI_FLAG, "the cache sink needs a redis://, rediss:// or unix:// URI")
    scheme, found, _ = uri.partition("://")
    if not found or scheme not in SCHEMES:
        problem = f"expected a redis://, rediss:// or unix:// URI, got {redacted(uri)!r}"
        raise SinkConfigError(URI_FLAG, problem)
    try:
        parsed = parse_url(uri)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise SinkConfigError(URI_FLAG, f"{redacted(uri)}: {exc}") from None
    if scheme == "unix" and not parsed.get("path"):
        raise SinkConfigError(URI_FLAG, f"{redacted(uri)}: a unix:// URI needs the socket's path")
    return uri


def build(settings: SinkSettings) -> CacheSink:
    """A CacheSink on settings.cache_uri; SinkConfigError names the flag of a bad setting.
    Nothing is connected here: a server that is down is a transient failure of the first call,
    not a configuration error."""
    uri = check_uri(settings.cache_uri)
    if settings.cache_ttl < 1:
        raise SinkConfigError(TTL_FLAG, f"expected seconds >= 1, got {settings.cache_ttl}")
    if settings.cache_max_items < 1:
        problem = f"expected a count >= 1, got {settings.cache_max_items}"
        raise SinkConfigError(MAX_ITEMS_FLAG, problem)
    return CacheSink(uri, ttl=settings.cache_ttl, max_items=settings.cache_max_items)


# -- the client, once per process and URI (a warm Lambda reuses it) ----------------------------


class _Server:
    def __init__(self, uri: str) -> None:
        # One quick retry covers a connection the server dropped while idle; longer retries
        # with backoff are the caller's (the fanout's), so a call fails fast.
        self.client = redis.Redis.from_url(
            uri,
            socket_connect_timeout=3,
            socket_timeout=5,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 1),
        )
        self.write_batch: Script = self.client.register_script(_WRITE_BATCH)
        self.renew_lock: Script = self.client.register_script(_RENEW_LOCK)
        self.take_over_lock: Script = self.client.register_script(_TAKE_OVER_LOCK)
        self.release_lock: Script = self.client.register_script(_RELEASE_LOCK)


_SERVERS: dict[str, _Server] = {}
_SERVERS_LOCK = threading.Lock()


def _server(uri: str) -> _Server:
    with _SERVERS_LOCK:
        server = _SERVERS.get(uri)
        if server is None:
            server = _SERVERS[uri] = _Server(uri)
        return server


# -- failures ------------------------------------------------------------------------------------


def is_transient(exc: redis.RedisError) -> bool:
    """Whether a later call may succeed: the server is down, loading, a replica, full."""
    if isinstance(exc, redis.AuthenticationError | redis.exceptions.AuthorizationError):
        return False  # a ConnectionError in redis-py, but no retry fixes a password
    if isinstance(exc, _TRANSIENT_ERRORS):  # BusyLoadingError is a ConnectionError
        return True
    code = str(exc).split(" ", 1)[0]
    return isinstance(exc, redis.ResponseError) and code in _TRANSIENT_REPLIES


def _secrets(uri: str) -> list[str]:
    """The password(s) in a URI, to keep them out of error messages."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    for param in parts.query.split("&"):
        name, _, value = param.partition("=")
        if name.lower() == "password" and value:
            found.append(value)
    return found


def _slate_of(data: bytes | str | None) -> str:
    """The slate_date a stored snapshot says it holds ("" when it cannot be told)."""
    if data is None:
        return ""
    try:
        held = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ""
    day = held.get("slate_date") if isinstance(held, dict) else None
    return day if isinstance(day, str) and is_valid_id("slate_date", day) else ""


def _read_snapshot(data: bytes | str, key: str, named: tuple[str, str, str]) -> Snapshot | str:
    """The snapshot stored at `key`, or why it cannot be used (one line)."""
    try:
        snapshot = Snapshot.from_json(data)
    except (ValueError, TypeError) as exc:  # SnapshotError, JSONDecodeError
        return f"cannot read snapshot at key {key}: {' '.join(str(exc).split())}"
    held = (snapshot.provider, snapshot.league, snapshot.slate_date)
    if held != named:
        return (
            f"cannot use snapshot at key {key}: it holds {'/'.join(held)}, "
            f"its key says {'/'.join(named)}"
        )
    return snapshot


def _last_price(entry: bytes | str, provider: str, event_id: str) -> LastPrice | None:
    """A list entry as a LastPrice when it is an odds record of this provider and event (the
    list key has no provider in it: the seed's key names)."""
    try:
        data = orjson.loads(entry)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("provider") != provider:
        return None
    return LastPrice.from_odds(data, event_id)


# -- the sink ------------------------------------------------------------------------------------


class CacheSink:
    name: ClassVar[str] = "cache"
    # redis-py's client is thread-safe (a connection pool); our own state has a lock.
    thread_safe: ClassVar[bool] = True
    wants_raw: ClassVar[bool] = True

    def __init__(self, uri: str, *, ttl: int = 86_400, max_items: int = 1_000) -> None:
        self.uri = uri
        self.where = redacted(uri)
        self.ttl = ttl
        self.max_items = max_items
        self._server = _server(uri)
        self._secrets = _secrets(uri)
        self._lock = threading.Lock()
        self._claims: dict[str, str] = {}  # lock key -> our token
        self._renewed_at = 0.0
        # (league, event_id) -> its two list keys, ids checked once. Plain dict operations are
        # atomic under the GIL; a lost entry only costs one more check.
        self._lists: dict[tuple[str, str], tuple[str, str]] = {}

    @property
    def client(self) -> redis.Redis:
        return self._server.client

    # -- failures --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _talking(self, action: str) -> Iterator[None]:
        """Redis errors as SinkError "cannot <action> <redacted uri>: <reason>"."""
        try:
            yield
        except redis.RedisError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            for secret in self._secrets:
                reason = reason.replace(secret, "***")
            message = f"cannot {action} {self.where}: {reason}"
            raise SinkError(message, permanent=not is_transient(exc)) from exc

    def describe(self, snapshot: Snapshot) -> str:
        return f"{self.where} key {snapshot_key(snapshot.provider, snapshot.league)}"

    # -- snapshots -------------------------------------------------------------------------------

    def save_snapshot(self, snapshot: Snapshot, *, overwrite: bool = False) -> bool:
        named = (
            _checked("provider", snapshot.provider),
            _checked("league", snapshot.league),
            _checked("slate_date", snapshot.slate_date),
        )
        data = snapshot.to_json()
        with self._talking("save a snapshot to"), self.client.pipeline() as pipe:
            while True:
                try:
                    return self._save(pipe, named, data, overwrite=overwrite)
                except redis.WatchError:  # another writer changed a key we read: look again
                    continue

    def _save(
        self, pipe: Pipeline, named: tuple[str, str, str], data: bytes, *, overwrite: bool
    ) -> bool:
        provider, league, day = named
        dated, newest = snapshot_key(provider, league, day), snapshot_key(provider, league)
        # Immediate mode until multi(): the GETs below run now.
        pipe.watch(dated, newest)  # type: ignore[no-untyped-call]
        held = pipe.get(dated)
        if held is not None:
            existing = _read_snapshot(held, dated, named)
            if isinstance(existing, str):  # why it cannot be read
                log.warning("%s in %s: replaced", existing, self.where)
            elif not overwrite:
                pipe.unwatch()
                return False
        # The undated key holds the newest slate: an older slate saved later leaves it alone.
        replaces_newest = _slate_of(pipe.get(newest)) <= day
        pipe.multi()
        pipe.set(dated, data, ex=self.ttl)
        if replaces_newest:
            pipe.set(newest, data, ex=self.ttl)
        dates = dates_key(provider, league)
        pipe.zadd(dates, {day: int(day)})
        pipe.zremrangebyrank(dates, 0, -MAX_SLATES - 1)
        pipe.expire(dates, self.ttl)
        pipe.sadd(leagues_key(provider), league)
        pipe.expire(leagues_key(provider), self.ttl)
        pipe.execute()
        return True

    def load_snapshots(
        self, provider: str, leagues: Sequence[str], slate: str | None = None
    ) -> LoadedSnapshots:
        """Per league, the snapshot of `slate`, else the newest earlier one (a later one is
        never taken); without `slate`, the newest. A snapshot must hold what its key says."""
        provider = _checked("provider", provider)
        top = "+inf" if slate is None else int(_checked("slate_date", slate))
        found = LoadedSnapshots()
        for league in dict.fromkeys(leagues):
            league = _checked("league", league)
            with self._talking("read snapshots from"):
                stored = self._newest(provider, league, top)
            if stored is None:
                continue
            day, data = stored
            key = snapshot_key(provider, league, day)
            snapshot = _read_snapshot(data, key, (provider, league, day))
            if isinstance(snapshot, str):
                found.unreadable[league] = f"{snapshot} in {self.where}"
            else:
                found.snapshots.append(snapshot)
        return found

    def _newest(self, provider: str, league: str, top: int | str) -> tuple[str, bytes] | None:
        """The newest slate up to `top` whose snapshot key still exists, and its data. The
        dates index may name slates whose key expired: they are passed over."""
        members = self.client.zrevrangebyscore(dates_key(provider, league), top, "-inf")
        texts = [_text(member) for member in members if isinstance(member, bytes | str)]
        days = [day for day in texts if is_valid_id("slate_date", day)]
        if not days:
            return None
        with self.client.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.exists(snapshot_key(provider, league, day))
            present = pipe.execute()
        for day, there in zip(days, present, strict=True):
            if there:
                data = self.client.get(snapshot_key(provider, league, day))
                if data is not None:  # else it expired just now
                    return day, data if isinstance(data, bytes) else data.encode()
        return None

    # -- claims ----------------------------------------------------------------------------------

    def claim(self, provider: str, league: str) -> None:
        """SET NX EX on snuper:lock:<provider>:<league>; SinkBusy naming the holder's token
        (hostname:pid:uuid) when another monitor has it."""
        key = lock_key(_checked("provider", provider), _checked("league", league))
        with self._lock:
            if key in self._claims:
                return
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        with self._talking("claim a league in"):
            holder = self._take(key, token)
        if holder != token:
            raise SinkBusy(
                f"{provider} {league} is already monitored into {self.where} "
                f"({holder or 'unknown'} holds {key})"
            )
        with self._lock:
            self._claims[key] = token
            self._renewed_at = time.monotonic()

    def _take(self, key: str, token: str) -> str | None:
        """Set the lock to `token` if free, or if its holder is a process of this host that is
        gone; the holder then (ours when taken). A reply lost and the SET retried finds our own
        token: taken too."""
        for _ in range(3):  # the holder's key may expire between our SET and our GET
            if self.client.set(key, token, nx=True, ex=LOCK_TTL_S):
                return token
            held = self.client.get(key)
            if held is None:
                continue
            holder = _text(held)
            if holder == token:
                return token
            if _gone(holder) and self._server.take_over_lock(
                keys=[key], args=[holder, token, LOCK_TTL_S]
            ):
                log.warning("claim %s in %s was held by %s, a process of this host that is "
                            "gone: taken over", key, self.where, holder)  # fmt: skip
                return token
            return holder
        return None

    def _keep_claims(self) -> None:
        """Renew our locks, at most every LOCK_RENEW_S. One that expired (a long quiet spell,
        an outage) is taken again if free; SinkBusy (permanent) if another monitor took it,
        so that two monitors never write the same league."""
        now = time.monotonic()
        with self._lock:
            if not self._claims or now - self._renewed_at < LOCK_RENEW_S:
                return
            claims = list(self._claims.items())
        with self._talking("renew a claim in"):
            for key, token in claims:
                if self._server.renew_lock(keys=[key], args=[token, LOCK_TTL_S]):
                    continue
                holder = self._take(key, token)
                if holder != token:
                    message = f"lost the claim {key} in {self.where} to {holder or 'unknown'}"
                    raise SinkBusy(message, permanent=True)
                log.warning("claim %s in %s had expired: taken again", key, self.where)
        with self._lock:
            self._renewed_at = now

    # -- odds ------------------------------------------------------------------------------------

    def _lists_of(self, record: Record) -> tuple[str, str]:
        """The (selection, raw) list keys of a record's event, its ids checked once."""
        found = self._lists.get((record.league, record.event_id))
        if found is None:
            _checked("provider", record.provider)
            league = _checked("league", record.league)
            event_id = _checked("event_id", record.event_id)
            if len(self._lists) >= _CACHE_LIMIT:
                self._lists.clear()
            found = (selection_key(league, event_id), raw_key(league, event_id))
            self._lists[(league, event_id)] = found
        return found

    def write_updates(self, records: Sequence[Record]) -> None:
        """The batch in one atomic script call (one round trip): stored whole once Redis
        answers, or not at all; passed again, nothing is added."""
        self._keep_claims()
        if not records:
            return
        lists: dict[str, list[bytes]] = {}
        for record in records:
            selection, raw = self._lists_of(record)
            key = raw if type(record) is RawMessage else selection
            lists.setdefault(key, []).append(record.to_json())
        args: list[int | bytes] = [self.ttl, self.max_items]
        for values in lists.values():
            kept = values[-self.max_items :]  # the rest would be trimmed at once
            args.append(len(kept))
            args.extend(kept)
        with self._talking("write to"):
            self._server.write_batch(keys=[batch_key(records), *lists], args=args)

    def flush(self, *, final: bool = False) -> None:
        """Nothing to do: a batch is stored when write_updates returns. Renews the claims."""
        self._keep_claims()

    def close(self) -> None:
        """Release our claims (only those still ours). The client stays, for the next sink of
        this process on the same server."""
        with self._lock:
            claims, self._claims = self._claims, {}
        with self._talking("release a claim in"):
            for key, token in claims.items():
                self._server.release_lock(keys=[key], args=[token])

    def last_prices(self, snapshot: Snapshot) -> list[LastPrice]:
        """The last odds record per market and side in each event's selection list. The lists
        are trimmed: a side whose last record was trimmed away is missing, which only makes the
        restarted monitor write one record that repeats its price."""
        provider = _checked("provider", snapshot.provider)
        league = _checked("league", snapshot.league)
        events = [_checked("event_id", event.event_id) for event in snapshot.events]
        found: list[LastPrice] = []
        for start in range(0, len(events), _EVENTS_PER_READ):
            chunk = events[start : start + _EVENTS_PER_READ]
            with self._talking("read from"), self.client.pipeline(transaction=False) as pipe:
                for event_id in chunk:
                    pipe.lrange(selection_key(league, event_id), 0, -1)
                entries = pipe.execute()
            for event_id, listed in zip(chunk, entries, strict=True):
                found.extend(_newest_prices(listed, provider, event_id))
        return found

    def read_event(
        self, provider: str, league: str, slate_date: str, event_id: str
    ) -> list[Record]:
        """The event's selection list in order; entries that cannot be read, and records of
        another provider or slate sharing the key, are left out."""
        provider = _checked("provider", provider)
        slate_date = _checked("slate_date", slate_date)
        key = selection_key(_checked("league", league), _checked("event_id", event_id))
        with self._talking("read from"):
            entries = self.client.lrange(key, 0, -1)
        records: list[Record] = []
        for entry in entries:
            try:
                record = record_from_json(entry)
            except ValueError:  # SnapshotError, JSONDecodeError: not one of ours
                continue
            if (
                isinstance(record, OddsUpdate | Heartbeat)
                and record.provider == provider
                and record.slate_date == slate_date
            ):
                records.append(record)
        return records


def _newest_prices(entries: Sequence[Any], provider: str, event_id: str) -> list[LastPrice]:
    """The newest odds entry per (market, side) of one selection list (oldest first)."""
    last: dict[tuple[str, str], LastPrice] = {}
    for entry in reversed(entries):
        price = _last_price(entry, provider, event_id)
        if price is not None:
            last.setdefault((price.market, price.side), price)
    return list(last.values())


def _gone(holder: str) -> bool:
    """Whether a lock's holder ("<hostname>:<pid>:<uuid>") is a process of this host that no
    longer runs: it died, or its close could not reach Redis. Its lock would block a restart
    for up to LOCK_TTL_S. A holder on another host is never judged (its lock expires).
    Caveat: containers that share the host's name but not its pids (docker --network host)
    must not monitor the same league into one Redis."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it runs, as another user
        return False
    return False


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
