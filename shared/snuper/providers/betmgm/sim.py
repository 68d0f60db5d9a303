"""The simulated BetMGM site: league pages, clientconfig, and the CDS fixtures/fixture-view API.

It speaks the wire format of wire-formats.md (BetMGM) and encodes everything itself: it never
imports the parser, so the parser and the simulator cannot share a mistake. Fixtures alternate
between the two market models (`games[]`/`results[]` and `optionMarkets[]`/`options[]`), lines
in `attr` use comma decimals, names are "Away at Home", ids are integers, and every fixture also
carries a non-main (alternate) spread and a market kind nobody collects.

Scenario time runs only while a league is polled (a fixtures request within IDLE_S), so a
paused monitor loses nothing and a test sees the same sequence every run.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal

import orjson
from aiohttp import web

from snuper.sim.options import SimOptions
from snuper.sim.scenario import Kind, SideName, Step, plan_games, plan_steps
from snuper.sim.script import Script, default_scenarios, ticker

log = logging.getLogger("snuper.sim.betmgm")

Model = Literal["games", "optionMarkets"]

ACCESS_ID = "YmQ3ZmQ5MjMtZGYxNi00ZTU0LWE3MjAtNzQ4ZDhjZmI0ZTA3"  # a public per-brand key (made up)
PAGE_SIZE = 50  # the most fixtures one page holds (the site asks take=50)
IDLE_S = 2.0  # real seconds without a poll after which a league's clock pauses
MALFORMED_BODY = b'{"fixtures": [{"id": 1, "name": {"val'  # a cut-off answer


@dataclass(frozen=True, slots=True)
class LeagueInfo:
    league: str
    sport_id: int
    competition_id: int
    sport_slug: str
    league_slug: str
    spread_name: str

    @property
    def path(self) -> str:
        return f"{self.sport_slug}-{self.sport_id}/betting/usa-9/{self.league_slug}-" + str(
            self.competition_id
        )


LEAGUES: dict[str, LeagueInfo] = {
    "nba": LeagueInfo("nba", 7, 6004, "basketball", "nba", "Spread"),
    "nfl": LeagueInfo("nfl", 11, 35, "football", "nfl", "Spread"),
    "mlb": LeagueInfo("mlb", 23, 75, "baseball", "mlb", "Run Line"),
}
_BY_IDS = {(i.sport_id, i.competition_id): i for i in LEAGUES.values()}


# --- scenario ------------------------------------------------------------------------------


@dataclass(slots=True)
class SimFixture:
    fixture_id: int
    home: str
    away: str
    start: datetime
    model: Model
    home_pid: int
    away_pid: int

    @property
    def name(self) -> str:
        return f"{self.away} at {self.home}"


@dataclass(slots=True)
class SimMarket:
    market_id: int
    fixture_id: int
    kind: Kind
    suspended: bool = False


@dataclass(slots=True)
class SimResult:
    result_id: int
    market_id: int
    side: SideName
    american: int
    line: float | None


@dataclass(slots=True)
class Scenario:
    league: str
    fixtures: list[SimFixture]
    markets: list[SimMarket]
    results: list[SimResult]
    steps: list[Step]


def decimal_odds(american: int) -> float:
    """The decimal price the site shows beside the American one (2 places)."""
    exact = 1 + american / 100 if american > 0 else 1 + 100 / -american
    return round(exact, 2)


def generate_scenario(
    league: str, *, seed: int, slate_day: date, n_events: int = 3, duration: float = 1800.0
) -> Scenario:
    """A deterministic slate and its moves for one league (snuper.sim.scenario), with BetMGM ids;
    fixtures alternate between the two market models."""
    if league not in LEAGUES:
        raise ValueError(f"no BetMGM simulation for {league!r}")
    rng = random.Random(seed ^ zlib.crc32(b"betmgm" + league.encode()))
    games = plan_games(rng, league, slate_day, n_events)
    fixtures: list[SimFixture] = []
    markets: list[SimMarket] = []
    results: list[SimResult] = []
    fixture_num = 17_200_000 + list(LEAGUES).index(league) * 1_000_000 + rng.randrange(100_000)
    market_num = 1_450_000_000 + rng.randrange(1_000_000)
    result_num = 3_800_000_000 + rng.randrange(1_000_000)
    for i, game in enumerate(games):
        fx = SimFixture(fixture_num, game.home, game.away, game.start,
                        "games" if i % 2 == 0 else "optionMarkets",
                        900_000 + 2 * i, 900_001 + 2 * i)  # fmt: skip
        fixtures.append(fx)
        fixture_num += rng.randint(3, 90)
        for kind, sides in game.opening:
            markets.append(SimMarket(market_num, fx.fixture_id, kind))
            for side, american, line in sides:
                results.append(SimResult(result_num, market_num, side, american, line))
                result_num += rng.randint(1, 9)
            market_num += rng.randint(1, 50)
    plan = [(f.fixture_id, [(m.market_id, m.kind) for m in markets if m.fixture_id == f.fixture_id])
            for f in fixtures]  # fmt: skip
    world = LeagueWorld(Scenario(league, fixtures, markets, results, []))
    steps = plan_steps(rng, league, plan, world, duration)
    return Scenario(league, fixtures, markets, results, steps)


# --- the world and its encoding ------------------------------------------------------------


def _comma(line: float, *, signed: bool) -> str:
    """'+1,5', '-3', '45,5': the site's attr text (a comma decimal)."""
    text = f"{line:+g}" if signed else f"{line:g}"
    return text.replace(".", ",")


class LeagueWorld:
    """The current state of one league (steps applied so far) and its JSON encoders."""

    def __init__(self, scenario: Scenario) -> None:
        scenario = copy.deepcopy(scenario)
        self.info = LEAGUES[scenario.league]
        self.fixtures = {f.fixture_id: f for f in scenario.fixtures}
        self.markets = {m.market_id: m for m in scenario.markets}
        self.results = {r.result_id: r for r in scenario.results}
        self._next_id = max([r.result_id for r in scenario.results], default=0) + 1_000

    def find(self, market_id: int, side: str) -> SimResult:
        for r in self.results.values():
            if r.market_id == market_id and r.side == side:
                return r
        raise KeyError(f"no {side} result in market {market_id}")

    def apply(self, step: Step) -> None:
        if step.event_id not in self.fixtures:
            raise KeyError(f"step for unknown fixture {step.event_id}")
        if step.kind == "end":
            for m in [m for m in self.markets.values() if m.fixture_id == step.event_id]:
                for r in [r for r in self.results.values() if r.market_id == m.market_id]:
                    del self.results[r.result_id]
                del self.markets[m.market_id]
            del self.fixtures[step.event_id]
            return
        if step.market_id not in self.markets:
            raise KeyError(f"{step.kind} step for unknown market {step.market_id}")
        market = self.markets[step.market_id]
        if step.kind in ("suspend", "resume"):
            market.suspended = step.kind == "suspend"
        elif step.kind == "price" and step.side and step.american is not None:
            self.find(market.market_id, step.side).american = step.american
        elif step.kind == "line" and step.side and step.line is not None:
            # A line move replaces the market's results with new ids (as a new offer).
            for r in [r for r in self.results.values() if r.market_id == market.market_id]:
                mine = r.side == step.side
                line = step.line if mine or market.kind == "total" else -step.line
                american = step.american if mine and step.american is not None else r.american
                del self.results[r.result_id]
                self._next_id += 7
                self.results[self._next_id] = replace(
                    r, result_id=self._next_id, line=line, american=american
                )
        else:
            raise ValueError(f"cannot apply {step}")

    def results_of(self, market_id: int) -> list[SimResult]:
        return sorted(
            (r for r in self.results.values() if r.market_id == market_id),
            key=lambda r: r.side in ("home", "under"),  # away/over first, as the site lists
        )

    def ordered(self) -> list[SimFixture]:
        return sorted(self.fixtures.values(), key=lambda f: (f.start, f.fixture_id))

    def fixture_json(self, fx: SimFixture) -> dict[str, Any]:
        markets = [m for m in self.markets.values() if m.fixture_id == fx.fixture_id]
        body: dict[str, Any] = {
            "id": fx.fixture_id,
            "name": {"value": fx.name, "sign": "Ak8gSBW"},
            "sourceId": fx.fixture_id + 11,
            "startDate": fx.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cutOffDate": fx.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "stage": "PreMatch",
            "context": f"v1|en-us|{fx.fixture_id}|all",
            "sport": {"id": self.info.sport_id, "name": {"value": self.info.sport_slug.title()}},
            "competition": {"id": self.info.competition_id},
            "participants": [
                {"participantId": fx.away_pid, "name": {"value": fx.away},
                 "properties": {"type": "AwayTeam"}},
                {"participantId": fx.home_pid, "name": {"value": fx.home},
                 "properties": {"type": "HomeTeam"}},
            ],
        }  # fmt: skip
        if fx.model == "games":
            body["games"] = [self._game(m, fx) for m in markets] + self._extra_games(fx)
            body["optionMarkets"] = []
        else:
            body["optionMarkets"] = [self._option_market(m, fx) for m in markets]
            body["optionMarkets"] += self._extra_option_markets(fx)
            body["games"] = []
        return body

    def _game_name(self, kind: Kind) -> str:
        return {"moneyline": "Moneyline", "spread": self.info.spread_name, "total": "Totals"}[kind]

    def _result_name(self, r: SimResult, fx: SimFixture) -> str:
        if r.side in ("over", "under"):
            assert r.line is not None
            return f"{r.side.title()} {_comma(r.line, signed=False)}"
        return fx.home if r.side == "home" else fx.away

    def _game(self, m: SimMarket, fx: SimFixture) -> dict[str, Any]:
        results = self.results_of(m.market_id)
        game: dict[str, Any] = {
            "id": m.market_id,
            "name": {"value": self._game_name(m.kind)},
            "isMain": True,
            "visibility": "Suspended" if m.suspended else "Visible",
            "templateCategory": {"id": {"moneyline": 44, "spread": 45, "total": 46}[m.kind]},
            "results": [],
        }
        if m.kind == "total" and results and results[0].line is not None:
            game["attr"] = _comma(results[0].line, signed=False)
        for r in results:
            row: dict[str, Any] = {
                "id": r.result_id,
                "odds": decimal_odds(r.american),
                "americanOdds": r.american,
                "name": {"value": self._result_name(r, fx)},
                "visibility": "Visible",
            }
            if m.kind == "spread" and r.line is not None:
                row["attr"] = _comma(r.line, signed=True)
            if m.kind == "total":
                row["totalsPrefix"] = r.side.title()
            game["results"].append(row)
        return game

    def _option_market(self, m: SimMarket, fx: SimFixture) -> dict[str, Any]:
        results = self.results_of(m.market_id)
        market_type = {"moneyline": "2Way - OneWinner", "spread": "Handicap",
                       "total": "Over/Under"}[m.kind]  # fmt: skip
        params = [{"key": "MarketType", "value": market_type},
                  {"key": "Happening", "value": "Points"}]  # fmt: skip
        if m.kind == "total" and results and results[0].line is not None:
            params.append({"key": "DecimalValue", "value": f"{results[0].line:g}"})
        options = []
        for r in results:
            option: dict[str, Any] = {
                "id": r.result_id,
                "name": {"value": self._result_name(r, fx)},
                "price": {"id": r.result_id + 5, "odds": decimal_odds(r.american),
                          "americanOdds": r.american},
                "status": "Visible",
            }  # fmt: skip
            if r.side in ("home", "away"):
                option["participantId"] = fx.home_pid if r.side == "home" else fx.away_pid
            if m.kind == "spread" and r.line is not None:
                option["attr"] = _comma(r.line, signed=True)
            options.append(option)
        return {
            "id": m.market_id,
            "name": {"value": self._game_name(m.kind)},
            "status": "Suspended" if m.suspended else "Visible",
            "isMain": True,
            "parameters": params,
            "options": options,
        }

    def _extra_games(self, fx: SimFixture) -> list[dict[str, Any]]:
        """An alternate spread (isMain false) and a kind nobody collects: both to be ignored."""
        base = fx.fixture_id * 100
        return [
            {"id": base + 91, "name": {"value": self.info.spread_name}, "isMain": False,
             "visibility": "Visible", "results": [
                 {"id": base + 92, "odds": 2.6, "americanOdds": 160,
                  "name": {"value": fx.away}, "attr": "+2,5"},
                 {"id": base + 93, "odds": 1.5, "americanOdds": -200,
                  "name": {"value": fx.home}, "attr": "-2,5"}]},
            {"id": base + 94, "name": {"value": "1st Half Winner"}, "isMain": True,
             "results": [{"id": base + 95, "odds": 1.8, "americanOdds": -125,
                          "name": {"value": fx.home}}]},
        ]  # fmt: skip

    def _extra_option_markets(self, fx: SimFixture) -> list[dict[str, Any]]:
        base = fx.fixture_id * 100
        return [
            {"id": base + 96, "name": {"value": "Player Points"}, "status": "Visible",
             "isMain": False, "parameters": [{"key": "MarketType", "value": "PlayerProps"}],
             "options": [{"id": base + 97, "name": {"value": "Over 20,5"},
                          "price": {"odds": 1.9, "americanOdds": -110}}]},
        ]  # fmt: skip


# --- the site ------------------------------------------------------------------------------


def _page(info: LeagueInfo) -> str:
    # As on the real site, the page learns its access id from clientconfig and then calls the
    # CDS fixtures endpoint with it: Playwright sees both requests.
    query = (
        "lang=en-us&country=US&userCountry=US&fixtureTypes=Standard&state=Latest"
        "&offerMapping=Filtered&offerCategories=Gridable&fixtureCategories=Gridable"
        f"&sortBy=Tags&take={PAGE_SIZE}&skip=0&sportIds={info.sport_id}"
        f"&competitionIds={info.competition_id}"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{info.league.upper()} Odds | BetMGM (simulated)</title></head>
<body><main id="league"><p id="status">Loading…</p><ul id="fixtures"></ul></main>
<script>
(async () => {{
  const status = document.getElementById("status");
  const cfg = await (await fetch("/en/api/clientconfig",
                                  {{headers: {{"x-bwin-sports-api": "prod"}}}})).json();
  const id = cfg.msApp.publicAccessId;
  for (let attempt = 0; attempt < 8; attempt++) {{
    const res = await fetch("/cds-api/bettingoffer/fixtures?x-bwin-accessid=" + id + "&{query}");
    if (res.ok) {{
      const data = await res.json();
      const list = document.getElementById("fixtures");
      for (const fx of data.fixtures) {{
        const item = document.createElement("li");
        item.textContent = fx.name.value;
        list.appendChild(item);
      }}
      status.textContent = data.totalCount + " fixtures";
      return;
    }}
    await new Promise((done) => setTimeout(done, 250 * (attempt + 1)));
  }}
  status.textContent = "failed to load";
}})();
</script></body></html>
"""


@dataclass(slots=True, eq=False, kw_only=True)
class LeagueRuntime(Script[Step]):
    world: LeagueWorld
    last_poll: float | None = None  # loop time of the latest fixtures request


@dataclass(slots=True)
class _Faults:
    status: int | None = None
    left: int = 0
    malformed_at: int | None = None  # the Nth API answer (1-based, whole sim)
    malformed_sent: bool = False


class BetMGMSim:
    """The simulated site; one instance per app, found on the app under SIM_KEY."""

    def __init__(
        self,
        options: SimOptions,
        scenarios: Mapping[str, Scenario] | None = None,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.options = options
        self.page_size = page_size
        if scenarios is None:
            scenarios = default_scenarios(options, LEAGUES, generate_scenario)
        self.leagues: dict[str, LeagueRuntime] = {
            league: LeagueRuntime.playing(sc.steps, options.speed, world=LeagueWorld(sc))
            for league, sc in scenarios.items()
        }
        f = options.faults
        self.faults = _Faults(f.http_status, f.http_failures if f.http_status else 0,
                              f.malformed_at)  # fmt: skip
        self.api_requests = 0
        self.fixtures_requests = 0
        self.forbidden = 0  # requests refused for a missing or wrong access id

    # -- test hooks: faults at a chosen moment (after a scrape, during a monitor) --

    def fail_next(self, status: int, count: int) -> None:
        self.faults.status, self.faults.left = status, count

    def malformed_next(self, after: int = 0) -> None:
        """The API answer after the next `after` ones is cut off (once)."""
        self.faults.malformed_at = self.api_requests + 1 + after
        self.faults.malformed_sent = False

    # -- wiring --

    def mount(self, app: web.Application) -> None:
        app[SIM_KEY] = self
        app.router.add_get("/en/sports/{sport}/betting/{region}/{league}", self._league_page)
        app.router.add_get("/en/api/clientconfig", self._clientconfig)
        app.router.add_get("/cds-api/bettingoffer/fixtures", self._fixtures)
        app.router.add_get("/cds-api/bettingoffer/fixture-view", self._fixture_view)
        app.cleanup_ctx.append(ticker(self.tick))

    def slate(self, league: str) -> list[dict[str, Any]]:
        """The league's fixtures as the API shows them now (tests compare snapshots to it)."""
        world = self.leagues[league].world
        return [world.fixture_json(f) for f in world.ordered()]

    def tick(self) -> None:
        now = asyncio.get_running_loop().time()
        for runtime in self.leagues.values():
            if runtime.last_poll is None or now - runtime.last_poll > IDLE_S:
                runtime.clock.pause()  # nobody polling: scenario time stands still
                continue
            for step in runtime.due():
                try:
                    runtime.world.apply(step)
                except (KeyError, ValueError):
                    log.exception("skipping a step the scenario cannot apply: %s", step)

    # -- HTTP --

    async def _gate(self, request: web.Request, *, api: bool) -> web.Response | None:
        """Applies the HTTP faults and the access-id check; a response means 'answer this'."""
        faults = self.options.faults
        if faults.delay_s > 0 and self.api_requests >= faults.delay_after_api:
            await asyncio.sleep(faults.delay_s)
        if not api:
            return None
        self.api_requests += 1
        if self.faults.left > 0 and self.faults.status:
            self.faults.left -= 1
            status = self.faults.status
            headers = {"Retry-After": "1"} if status in (429, 503) else {}
            return web.json_response({"message": "simulated failure"}, status=status,
                                     headers=headers)  # fmt: skip
        given = request.headers.get("x-bwin-accessid") or request.query.get("x-bwin-accessid")
        if given != ACCESS_ID:
            self.forbidden += 1
            return web.json_response({"message": "missing or unknown access id"}, status=403)
        if self.faults.malformed_at == self.api_requests and not self.faults.malformed_sent:
            self.faults.malformed_sent = True
            return web.Response(body=MALFORMED_BODY, content_type="application/json")
        return None

    async def _league_page(self, request: web.Request) -> web.StreamResponse:
        await self._gate(request, api=False)
        slug = request.match_info["league"]
        info = next((i for i in LEAGUES.values() if i.path.endswith(slug)), None)
        if info is None or info.league not in self.leagues:
            raise web.HTTPNotFound(text="no such league")
        return web.Response(text=_page(info), content_type="text/html")

    async def _clientconfig(self, request: web.Request) -> web.StreamResponse:
        await self._gate(request, api=False)
        return web.json_response(
            {"msApp": {"publicAccessId": ACCESS_ID, "clientId": "sportsbook"},
             "msConnection": {"pushUrl": "wss://cds-push.nj.betmgm.com"}}
        )  # fmt: skip

    def _runtime(self, request: web.Request) -> LeagueRuntime | None:
        try:
            key = (int(request.query["sportIds"]), int(request.query["competitionIds"]))
        except (KeyError, ValueError):
            return None
        info = _BY_IDS.get(key)
        return self.leagues.get(info.league) if info else None

    async def _fixtures(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request, api=True)
        if refused is not None:
            return refused
        self.fixtures_requests += 1
        runtime = self._runtime(request)
        if runtime is None:
            return web.json_response({"fixtures": [], "totalCount": 0})
        runtime.last_poll = asyncio.get_running_loop().time()
        runtime.clock.start()
        self.tick()
        if self.options.faults.unreadable_api:
            return web.json_response({"fixtures": {"redesigned": True}, "totalCount": "many"})
        try:
            skip = max(0, int(request.query.get("skip", "0")))
            take = min(self.page_size, max(1, int(request.query.get("take", str(PAGE_SIZE)))))
        except ValueError:
            return web.json_response({"message": "bad skip/take"}, status=400)
        fixtures = runtime.world.ordered()
        page = [runtime.world.fixture_json(f) for f in fixtures[skip : skip + take]]
        body = {"fixtures": page, "totalCount": len(fixtures)}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def _fixture_view(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request, api=True)
        if refused is not None:
            return refused
        try:
            fixture_id = int(request.query["fixtureIds"])
        except (KeyError, ValueError):
            return web.json_response({"message": "fixtureIds required"}, status=400)
        for runtime in self.leagues.values():
            fx = runtime.world.fixtures.get(fixture_id)
            if fx is not None:
                body = {"fixture": runtime.world.fixture_json(fx)}
                return web.Response(body=orjson.dumps(body), content_type="application/json")
        # Inferred: a fixture the book no longer offers comes back as null.
        return web.json_response({"fixture": None})


SIM_KEY = web.AppKey("betmgm_sim", BetMGMSim)


def mount_sim(app: web.Application, options: SimOptions) -> None:
    BetMGMSim(options).mount(app)


def sim_exports(base_url: str) -> dict[str, str]:
    base = base_url.rstrip("/")
    return {"SITE": base, "API": base}


__all__ = [
    "ACCESS_ID",
    "BetMGMSim",
    "LeagueWorld",
    "Scenario",
    "SimFixture",
    "SimMarket",
    "SimResult",
    "Step",
    "decimal_odds",
    "generate_scenario",
]
