"""parse_ratio.<provider>: decode + diff of recorded simulator frames over bare decode."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from typing import Any, cast

import msgpack

from bench.common import FROZEN_DAY, FROZEN_NOW
from bench.registry import Figure, Progress, figure, median
from snuper.model import Event, Snapshot
from snuper.providers.draftkings.parse import FrameDecoder, parse_league
from snuper.providers.draftkings.sim import (
    Connection,
    DraftKingsSim,
    Step,
    Subscription,
    generate_scenario,
)
from snuper.sim.options import SimOptions
from snuper.watch import Watchlist

STORED_SELECTIONS = 200
N_FRAMES = 3000
LINE_MOVE_EVERY = 40  # one line move (insert + delete, a new id) per this many price changes
REPETITIONS = 15
SUB_ID = "bench-sub"
RECEIVED_AT = "2026-03-08T16:00:00.000Z"
_PRICES = [p for p in range(-250, 255, 5) if p <= -105 or p >= 100]


def _snapshot(sim: DraftKingsSim, selections: int) -> Snapshot:
    """The league as the scraper stores it, cut to exactly `selections` selections."""
    world = sim.leagues["nba"].world
    events = parse_league(world.sportscontent(), "nba", site_base="http://127.0.0.1")
    kept: list[Event] = []
    left = selections
    for event in events:
        if left <= 0:
            break
        # 34 games run past midnight; a snapshot is one slate: late ones start with the first.
        if kept and event.slate_date != kept[0].slate_date:
            event = replace(event, slate_date=kept[0].slate_date, start_time=kept[0].start_time)
        kept.append(replace(event, selections=event.selections[:left]))
        left -= len(kept[-1].selections)
    if left > 0:
        raise RuntimeError(f"the scenario holds {selections - left} selections only")
    return Snapshot("draftkings", "nba", kept[0].slate_date, FROZEN_NOW, tuple(kept))


def record_frames(
    n_frames: int = N_FRAMES, seed: int = 7, selections: int = STORED_SELECTIONS
) -> tuple[list[bytes], Snapshot]:
    """Update frames exactly as the simulator sends them to a league subscription: random price
    changes and some line moves, encoded by the simulator's own `_send_update`, over a snapshot
    of `selections` selections (6 per game)."""
    n_events = selections // 6 + 1
    scenario = generate_scenario("nba", seed=seed, slate_day=FROZEN_DAY, n_events=n_events)
    options = SimOptions(seed=seed, slate_day=FROZEN_DAY, events_per_league=n_events)
    sim = DraftKingsSim(options, {"nba": scenario})
    snapshot = _snapshot(sim, selections)
    world = sim.leagues["nba"].world
    conn = Connection(ws=cast(Any, None))  # only its queue is used
    sub = Subscription(SUB_ID, conn, "events", "nba", None, event_only=False)
    rng = random.Random(seed)
    markets = [
        m for m in world.markets.values() if m.event_id in {e.event_id for e in snapshot.events}
    ]
    frames: list[bytes] = []
    i = 0
    while len(frames) < n_frames:
        i += 1
        market = rng.choice(markets)
        if i % LINE_MOVE_EVERY == 0 and market.kind != "moneyline":
            outcome = "Home" if market.kind == "spread" else "Over"
            current = world.find_selection(market.market_id, outcome).points or 0.0
            points = current + rng.choice((-1.0, 1.0))
            if market.kind == "spread" and points == 0:
                points = 1.0
            step = Step(0, "line", market.event_id, market.market_id, outcome, points=points)
        else:
            outcome = rng.choice(("Over", "Under") if market.kind == "total" else ("Home", "Away"))
            step = Step(0, "price", market.event_id, market.market_id, outcome, rng.choice(_PRICES))
        for delta in world.apply(step):
            sim._send_update(sub, delta)
        while not conn.queue.empty():
            item = conn.queue.get_nowait()
            if item is not None:
                frames.append(item[0])
    return frames[:n_frames], snapshot


def _decode_and_diff(frames: list[bytes], snapshot: Snapshot) -> tuple[float, int]:
    watch = Watchlist.from_snapshot(snapshot)  # a fresh state: each pass sees the same changes
    decoder = FrameDecoder()
    decoder.track(SUB_ID, "events", initial_data=False)
    changes = 0
    started = time.perf_counter()
    for raw in frames:
        batch = decoder.decode(raw)
        for _ in watch.apply(batch.items, batch.source_ts, RECEIVED_AT):
            changes += 1
    return time.perf_counter() - started, changes


def _bare_decode(frames: list[bytes]) -> float:
    # The same options the decoder passes, so the reference is the decode it cannot avoid.
    unpackb = msgpack.unpackb
    started = time.perf_counter()
    for raw in frames:
        unpackb(raw, timestamp=3, strict_map_key=False)
    return time.perf_counter() - started


@figure("parse_ratio.draftkings")
def parse_ratio_draftkings(progress: Progress) -> Figure:
    frames, snapshot = record_frames()
    size = sum(len(f) for f in frames)
    progress(f"recorded {len(frames)} frames ({size / 1024:.0f} KiB) from the simulator")
    _decode_and_diff(frames, snapshot)  # warm up both paths once
    _bare_decode(frames)
    ratios: list[float] = []
    changes = 0
    for rep in range(REPETITIONS):
        # Interleaved, alternating which goes first, so a noisy neighbour hits both alike.
        if rep % 2:
            full, changes = _decode_and_diff(frames, snapshot)
            bare = _bare_decode(frames)
        else:
            bare = _bare_decode(frames)
            full, changes = _decode_and_diff(frames, snapshot)
        ratios.append(bare / full)
        progress(
            f"rep {rep + 1}/{REPETITIONS}: bare {len(frames) / bare:,.0f} frames/s, "
            f"decode+diff {len(frames) / full:,.0f} frames/s, ratio {bare / full:.3f}"
        )
    return Figure(
        "parse_ratio.draftkings",
        median(ratios),
        0.25,
        "higher",
        "x",
        {
            "frames": len(frames),
            "stored_selections": sum(len(e.selections) for e in snapshot.events),
            "changes_per_pass": changes,
            "repetitions": REPETITIONS,
            "ratios": [round(r, 4) for r in ratios],
        },
    )
