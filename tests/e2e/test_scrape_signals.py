"""SIGTERM during `snuper -t scrape`: the leagues already scraped are saved, the league in flight is
abandoned at once (one line says so), the rest never start, and the exit status is 130."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from snuper.model import Snapshot
from snuper.sim.options import Faults, SimOptions
from tests.e2e.cli import FROZEN_SLATE, cli_env
from tests.e2e.conftest import SimFactory

EXIT_WITHIN_S = 5.0  # from the signal to the exit (ECS waits 30 s before a SIGKILL)


async def eventually(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until `condition()` holds, for at most `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(0.05)


async def test_sigterm_mid_scrape_saves_the_leagues_done_and_exits_interrupted(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    events = tmp_path / "draftkings" / "events"
    nba = events / f"{FROZEN_SLATE}-nba.json"
    # nba loads at full speed; after its JSON the site takes a minute per answer (nfl, mlb).
    options = SimOptions(seed=8, faults=Faults(delay_s=60.0, delay_after_api=1))
    loop = asyncio.get_running_loop()
    async with dk_sim(options) as (running, sim):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "snuper", "-t", "scrape", "-p", "draftkings",
            "-l", "nba,nfl,mlb", "-o", str(tmp_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=cli_env(running.exports),
        )  # fmt: skip
        output = asyncio.create_task(process.communicate())
        try:
            await eventually(lambda: nba.exists() or output.done(), 90, "the nba snapshot")
            assert not output.done(), (await output)[1].decode()
            # The nfl page was asked for: the scrape is inside its (slow) page load.
            await eventually(lambda: sim.http_requests >= 3, 30, "the nfl page request")
            process.send_signal(signal.SIGTERM)
            signalled = loop.time()
            stdout, stderr_bytes = await asyncio.wait_for(output, 30)
            took = loop.time() - signalled
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    stderr = stderr_bytes.decode()

    assert process.returncode == 130, stderr
    assert took < EXIT_WITHIN_S, f"exited {took:.1f}s after SIGTERM\n{stderr}"
    snapshot = Snapshot.from_json(nba.read_bytes())
    assert (snapshot.provider, snapshot.league, snapshot.slate_date) == (
        "draftkings",
        "nba",
        FROZEN_SLATE,
    )
    assert len(snapshot.events) == 3 and all(e.selections for e in snapshot.events)
    assert sorted(p.name for p in events.iterdir()) == [nba.name]  # no nfl, no mlb, no temp file
    [abandoned] = [line for line in stderr.splitlines() if ": abandoned " in line]
    assert " WARNING snuper: draftkings nfl: abandoned mid-scrape" in abandoned
    [interrupted] = [line for line in stderr.splitlines() if "interrupted: " in line]
    assert interrupted.endswith(
        "interrupted: saved draftkings nba; not scraped: "
        "draftkings nfl (abandoned mid-scrape), draftkings mlb (not started)"
    ), stderr
    assert "Traceback" not in stderr
    assert not stdout
