"""Records' JSON lines: the fast encoder (orjson on the dataclass) writes what to_dict says."""

from __future__ import annotations

import orjson
import pytest

from snuper.model import Heartbeat, OddsUpdate, Price, Record

NBA = ("draftkings", "nba", "101", "20260308")
RECORDS: list[Record] = [
    OddsUpdate(*NBA, "0HC1N_3", "spread", "home", -1.5, -110, 1.9091, Price(-2.5, -105, 1.9524),
               "2026-03-08T16:00:00.000Z", "2026-03-08T16:00:00.001Z"),
    OddsUpdate(*NBA, "0ML1_1", "moneyline", "away", None, 150, 2.5, None, None,
               "2026-03-08T16:00:00Z"),
    OddsUpdate("draftkings", "nfl", "9", "20261101", "0OU1#é", "total", "under", 47.0, 100, 2.0,
               Price(None, -120, 1.8333), "2026-11-01T05:30:00.123Z", "2026-11-01T05:30:00.2Z"),
    Heartbeat(*NBA, "2026-03-08T16:00:30Z", 12, 0, 4096, 30.5),
]  # fmt: skip


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_to_json_is_to_dict_encoded(record: Record) -> None:
    line = record.to_json()
    assert line == orjson.dumps(record.to_dict())
    assert next(iter(orjson.loads(line))) == "type"  # the record type leads every line
