"""The monitor path (what a Fargate task or a plan function loads) stays light: no Playwright,
no aiohttp. Checked in a fresh interpreter, so the rest of the suite cannot mask an import."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MONITOR_PATH = """
import sys
from snuper import app, cli, runner
from snuper.config import Settings
from snuper.providers import PROVIDERS
from snuper.sinks.base import build_sink
from snuper.config import SinkSettings
from tests.factories import snapshot

for provider in PROVIDERS.values():
    provider.feed(provider.endpoints(), Settings(), snapshot())
build_sink("fs", SinkSettings(fs_dir=__import__("pathlib").Path(sys.argv[1])))
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"playwright", "aiohttp"})
print(",".join(heavy) or "none")
"""


def test_the_monitor_path_imports_neither_playwright_nor_aiohttp(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", MONITOR_PATH, str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"


def test_the_scrape_path_does_load_playwright() -> None:
    # The check above can fail: the same probe sees Playwright once the scraper is asked for.
    probe = (
        "import sys; from snuper.providers import PROVIDERS; "
        "PROVIDERS['draftkings'].load_scrape(); print('playwright' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.stdout.strip() == "True", done.stderr


def test_a_book_scraped_over_plain_http_never_loads_playwright() -> None:
    # Bovada's coupon is plain HTTP: its scrape, and the app's scrape path, stay browser-free.
    probe = (
        "import sys; from snuper import app; from snuper.providers import PROVIDERS; "
        "PROVIDERS['bovada'].load_scrape(); print('playwright' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.stdout.strip() == "False", done.stderr


def test_the_registry_names_the_leagues_each_parser_has_ids_for() -> None:
    from snuper.providers import PROVIDERS
    from snuper.providers.betmgm.parse import LEAGUES as BETMGM
    from snuper.providers.bovada.parse import LEAGUES as BOVADA
    from snuper.providers.draftkings.parse import LEAGUES as DRAFTKINGS
    from snuper.providers.fanduel.parse import LEAGUES as FANDUEL

    names = {"draftkings": tuple(DRAFTKINGS), "betmgm": tuple(BETMGM), "bovada": tuple(BOVADA),
             "fanduel": tuple(FANDUEL)}  # fmt: skip
    assert names == {name: p.leagues for name, p in PROVIDERS.items()}
