"""What a scrape or a plan is asked for: `{"providers": [...], "leagues": [...]}` (either key may
be left out: all). Checked before anything is built, so a bad event writes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from snuper.providers import PROVIDERS
from snuper.slate import LEAGUES

KEYS = ("providers", "leagues")


class EventError(ValueError):
    """An event we cannot act on; the one-line message names the bad key or value."""


@dataclass(frozen=True, slots=True)
class Selection:
    providers: tuple[str, ...]
    leagues: tuple[str, ...]


def parse_selection(event: object) -> Selection:
    """The providers and leagues an event asks for; EventError names what is wrong."""
    if event is None:
        event = {}
    if not isinstance(event, Mapping):
        raise EventError(f"expected a JSON object with {' and/or '.join(KEYS)}, got {_kind(event)}")
    # A typo ("provider") must not silently mean "all of them".
    unknown = [key for key in event if key not in KEYS]
    if unknown:
        raise EventError(f"unknown key {unknown[0]!r} (expected {', '.join(KEYS)})")
    providers = _names(event, "providers", tuple(PROVIDERS), "provider")
    leagues = _names(event, "leagues", LEAGUES, "league")
    return Selection(providers, leagues)


def _names(
    event: Mapping[str, object], key: str, known: Sequence[str], what: str
) -> tuple[str, ...]:
    value = event.get(key)
    if value is None:
        return tuple(known)
    if isinstance(value, str):  # "draftkings,fanduel" as the CLI takes it
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise EventError(f"{key}: expected a list of names, got {_kind(value)}")
    names = [v.strip().lower() for v in value if v.strip()]
    if not names:
        raise EventError(f"{key}: empty (leave the key out to mean all: {', '.join(known)})")
    for name in names:
        if name not in known:
            raise EventError(f"unknown {what} {name!r} (choose from {', '.join(known)})")
    return tuple(dict.fromkeys(names))


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
