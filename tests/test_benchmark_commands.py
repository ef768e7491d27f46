"""`python -m benchmarks NAME [options]`: every name it lists runs, and a mistyped option stops it.

Until 2026-12-07 five benchmarks read their options by hand: `forecast --help` ran the whole default
benchmark, `forecast --seed 2` (for --seeds) measured seed 1 without a word, and `routes`, a module the tests share,
was listed as a benchmark and ended in an AttributeError.
"""

from __future__ import annotations

import importlib

import pytest

from benchmarks.__main__ import available, run


@pytest.mark.parametrize("name", available())
def test_every_listed_benchmark_rejects_an_unknown_option(name, capsys):
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(getattr(module, "main", None)), f"benchmarks.{name} is listed but has no main()"
    with pytest.raises(SystemExit) as stopped:
        run([name, "--no-such-option"])
    assert stopped.value.code == 2
    assert "--no-such-option" in capsys.readouterr().err or name == "sqlite_copy"


def test_helpers_are_not_listed():
    assert "common" not in available()
    assert "routes" not in available()


def test_forecast_options_are_parsed_not_guessed(capsys):
    from benchmarks import forecast

    options = forecast.arguments(["--scenarios", "--seeds", "3,4", "--only", "drifting,small_team"])
    assert (options.seeds, options.only, options.longest) == ([3, 4], ["drifting", "small_team"], False)
    with pytest.raises(SystemExit):
        forecast.arguments(["--scenarios", "--seeds", "three"])
    assert "--seeds" in capsys.readouterr().err
    assert forecast.arguments(["--scenarios", "--seed", "2"]).seeds == [2]  # an abbreviation, not seed 1
    with pytest.raises(SystemExit):
        forecast.arguments(["--scenarios", "--seedz", "2"])


def test_forecast_names_an_unknown_scenario(capsys):
    from benchmarks import forecast

    assert forecast.scenarios(forecast.arguments(["--scenarios", "--only", "drifitng"])) == 2
    assert "no scenario named drifitng" in capsys.readouterr().err
