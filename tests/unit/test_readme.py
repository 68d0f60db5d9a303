"""The README lists every SNUPER_* variable the code reads, with its default."""

from pathlib import Path

from snuper.config import GENERAL_VARS, endpoint_var
from snuper.providers import PROVIDERS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_endpoint_variable_is_documented_with_its_default() -> None:
    for provider in PROVIDERS.values():
        for name, default in provider.endpoint_defaults.items():
            assert f"| `{endpoint_var(provider.name, name)}` | `{default}` |" in README


def test_every_general_variable_is_documented() -> None:
    for variable in GENERAL_VARS:
        assert f"| `{variable}` |" in README


def test_every_sink_variable_is_documented_beside_its_flag() -> None:
    from snuper.sinks.options import FS_DIR_VAR, SINK_OPTIONS, SINK_VAR, STAGING_VAR

    for variable in (SINK_VAR, FS_DIR_VAR, STAGING_VAR):
        assert f"| `{variable}` |" in README
    for option in SINK_OPTIONS:
        assert f"| `{option.env}` | `{option.flag}` |" in README
