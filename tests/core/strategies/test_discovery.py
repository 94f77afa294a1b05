"""Strategy plugins are found through the ``nija.strategies`` entry points, built-in and
third-party alike."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nija.core.plugins import PluginManager
from nija.core.strategies import Strategy

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_strategy"


def test_builtin_strategies_are_separate_distributions():
    found = {p.name: p for p in PluginManager(allow=None).load_entry_points().strategies()}
    expected = {"apex": "nija-strategy-apex", "macd_trend": "nija-strategy-macd",
                "bollinger_reversion": "nija-strategy-bollinger"}
    for name, dist in expected.items():
        assert found[name].distribution == dist
        assert issubclass(found[name].cls, Strategy)
        assert found[name].cls.__module__.startswith(dist.replace("-", "_"))


def test_allowlist_applies_to_strategies(monkeypatch):
    monkeypatch.setenv("NIJA_LOAD_PLUGINS", "apex")
    assert [p.name for p in PluginManager().load_entry_points().strategies()] == ["apex"]


def test_tracing_logs_hook_calls(monkeypatch, caplog):
    monkeypatch.setenv("NIJA_TRACE_PLUGINS", "1")
    monkeypatch.setenv("NIJA_LOAD_PLUGINS", "apex")
    with caplog.at_level("INFO", logger="nija.core.plugins._manager"):
        PluginManager().load_entry_points().strategies()
    assert any("register_strategies" in r.getMessage() for r in caplog.records)


@pytest.fixture(scope="module")
def third_party(tmp_path_factory):
    """pip-install the sample package into a private directory (not the shared venv)."""
    target = tmp_path_factory.mktemp("site")
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("src") / "sample_strategy"
    shutil.copytree(FIXTURE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--target",
         str(target), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    return target


def test_third_party_package_is_discovered_without_changing_nija(third_party, monkeypatch):
    assert not any(p.name == "sample_sma_cross" for p in PluginManager(allow=None).load_entry_points().strategies())
    monkeypatch.syspath_prepend(str(third_party))
    found = {p.name: p for p in PluginManager(allow=None).load_entry_points().strategies()}
    sample = found["sample_sma_cross"]
    assert (sample.distribution, sample.version) == ("nija-strategy-sample", "0.3.1")
    assert Path(sys.modules[sample.cls.__module__].__file__).is_relative_to(third_party)
    assert sample.cls.describe()["parameters"][0] == {
        "name": "period", "type": "int", "default": 30, "minimum": 2, "maximum": 500, "description": "SMA period"}


def test_third_party_strategy_backtests_and_lists_through_the_cli(third_party, tmp_path):
    env = {"PYTHONPATH": str(third_party), "PATH": str(Path(sys.executable).parent)}
    nija = str(Path(sys.executable).with_name("nija"))
    listing = subprocess.run([nija, "plugins"], env=env, capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "sample_sma_cross" in listing.stdout and "nija-strategy-sample" in listing.stdout
    assert "period: int = 30 [2..500]" in listing.stdout
    data = Path(__file__).resolve().parents[2] / "data" / "ohlcv" / "LTC_BTC-5m.csv"
    run = subprocess.run([nija, "backtest", "--strategy", "sample_sma_cross", "--data", str(data),
                          "--param", "period=50", "--out", str(tmp_path)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "strategy sample_sma_cross on LTC/BTC" in run.stdout
    assert (tmp_path / "result.json").exists()
