import random

from snuper.backoff import Backoff
from snuper.config import endpoint_var, resolve_endpoints
from snuper.providers import PROVIDERS

DEFAULTS = {"SITE": "https://book.example", "WS": "wss://ws-us-{state}.book.example/socket/"}


def test_defaults_fill_in_the_state_and_drop_a_trailing_slash() -> None:
    assert resolve_endpoints("book", DEFAULTS, env={}) == {
        "SITE": "https://book.example",
        "WS": "wss://ws-us-nj.book.example/socket",
    }
    assert resolve_endpoints("book", DEFAULTS, env={"SNUPER_STATE": "PA"})["WS"] == (
        "wss://ws-us-pa.book.example/socket"
    )


def test_environment_overrides_one_endpoint() -> None:
    env = {endpoint_var("book", "ws"): "ws://127.0.0.1:9999/socket"}
    assert env == {"SNUPER_BOOK_WS": "ws://127.0.0.1:9999/socket"}
    resolved = resolve_endpoints("book", DEFAULTS, env=env)
    assert resolved == {"SITE": "https://book.example", "WS": "ws://127.0.0.1:9999/socket"}


def test_draftkings_defaults_are_the_real_hosts() -> None:
    endpoints = PROVIDERS["draftkings"].endpoints(env={})
    assert endpoints["WS"] == "wss://sportsbook-ws-us-nj.draftkings.com/websocket"
    assert endpoints["SITE"] == "https://sportsbook.draftkings.com"


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(0.5, 4.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    steps = [min(4.0, 0.5 * 2**i) for i in range(8)]
    assert all(step / 2 <= d <= step for d, step in zip(delays, steps, strict=True))
    assert len({round(d, 6) for d in delays[4:]}) > 1  # jitter: capped delays still differ
    backoff.reset()
    assert backoff.next_delay() <= 0.5
