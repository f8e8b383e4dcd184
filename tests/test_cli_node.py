"""`kizuna node` and `kizuna keygen` at the command line: a bad start is one clear line and exit
code 2, never a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w
from typer.testing import CliRunner

from kizuna.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "indo-pacific.toml"
runner = CliRunner()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-node")
    result = runner.invoke(app, ["keygen", "USA", "JPN", "AUS", "--out", str(folder / "keys")])
    assert result.exit_code == 0, result.output
    assert (folder / "keys" / "JPN.key").stat().st_mode & 0o777 == 0o600
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["duration_s"] = 10.0
    for n in data["nations"]:
        n["key_file"] = f"keys/{n['code']}.key"
        n["public_key_file"] = f"keys/{n['code']}.pub"
    path = folder / "live.toml"
    path.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    return path


def edited(scenario: Path, name: str, change: dict[str, str]) -> Path:
    data = tomllib.loads(scenario.read_text(encoding="utf-8"))
    for n in data["nations"]:
        if n["code"] == "JPN":
            n.update(change)
    path = scenario.parent / name
    path.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    return path


def one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    for needle in needles:
        assert needle in text, result.output


def test_keygen_refuses_to_overwrite(scenario: Path) -> None:
    result = runner.invoke(app, ["keygen", "JPN", "--out", str(scenario.parent / "keys")])
    one_line_error(result, "JPN.key")


def test_a_missing_key_file_is_named(scenario: Path) -> None:
    bad = edited(scenario, "nokey.toml", {"key_file": "keys/NOPE.key"})
    result = runner.invoke(app, ["node", str(bad), "--nation", "JPN", "--listen", "tcp/127.0.0.1:0"])
    one_line_error(result, "NOPE.key")


def test_a_corrupt_key_file_is_named(scenario: Path) -> None:
    (scenario.parent / "keys" / "BAD.key").write_text("not hex at all\n", encoding="utf-8")
    bad = edited(scenario, "badkey.toml", {"key_file": "keys/BAD.key"})
    result = runner.invoke(app, ["node", str(bad), "--nation", "JPN", "--listen", "tcp/127.0.0.1:0"])
    one_line_error(result, "BAD.key")


def test_a_scenario_without_keys_says_how_to_make_them(scenario: Path) -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["duration_s"] = 10.0
    path = scenario.parent / "nokeys.toml"
    path.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    result = runner.invoke(app, ["node", str(path), "--nation", "JPN", "--listen", "tcp/127.0.0.1:0"])
    one_line_error(result, "key_file", "kizuna keygen")


def test_a_malformed_endpoint_is_named(scenario: Path) -> None:
    result = runner.invoke(app, ["node", str(scenario), "--nation", "JPN", "--listen", "tcp:127.0.0.1"])
    one_line_error(result, "tcp:127.0.0.1")


def test_an_unknown_nation_is_named(scenario: Path) -> None:
    result = runner.invoke(app, ["node", str(scenario), "--nation", "FRA", "--listen", "tcp/127.0.0.1:0"])
    one_line_error(result, "FRA")


def test_an_unknown_variant_lists_the_choices(scenario: Path) -> None:
    result = runner.invoke(
        app, ["run", str(scenario), "--variant", "nope", "--out", str(scenario.parent / "x")]
    )
    one_line_error(result, "no-sharing")
