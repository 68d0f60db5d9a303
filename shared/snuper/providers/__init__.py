"""Provider registry: name -> Provider. Adding a book is adding a folder and one line here."""

from __future__ import annotations

from snuper.providers.base import Provider
from snuper.providers.betmgm import PROVIDER as BETMGM
from snuper.providers.bovada import PROVIDER as BOVADA
from snuper.providers.draftkings import PROVIDER as DRAFTKINGS
from snuper.providers.fanduel import PROVIDER as FANDUEL

PROVIDERS: dict[str, Provider] = {p.name: p for p in (DRAFTKINGS, BETMGM, BOVADA, FANDUEL)}


def get(name: str) -> Provider:
    return PROVIDERS[name]


__all__ = ["PROVIDERS", "Provider", "get"]
