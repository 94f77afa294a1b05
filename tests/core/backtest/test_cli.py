"""``nija backtest`` end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NIJA = str(Path(sys.executable).with_name("nija"))
DATA = Path(__file__).resolve().parents[2] / "data" / "ohlcv"


def nija(*args):
    return subprocess.run([NIJA, *args], capture_output=True, text=True, timeout=300)


def test_two_runs_write_byte_identical_results(tmp_path):
    args = ["backtest", "--strategy", "apex", "--data", str(DATA / "ETH_BTC-5m.csv"), "--data",
            str(DATA / "LTC_BTC-5m.csv"), "--param", "oversold=35", "--param", "trend_filter=true", "--cash", "1"]
    a, b = nija(*args, "--out", str(tmp_path / "a")), nija(*args, "--out", str(tmp_path / "b"))
    assert a.returncode == 0 and b.returncode == 0, a.stderr
    assert "strategy apex on ETH/BTC, LTC/BTC" in a.stdout and "max drawdown" in a.stdout
    assert (tmp_path / "a" / "result.json").read_bytes() == (tmp_path / "b" / "result.json").read_bytes()
    assert (tmp_path / "a" / "report.html").read_bytes() == (tmp_path / "b" / "report.html").read_bytes()
    doc = json.loads((tmp_path / "a" / "result.json").read_text())
    assert [m["symbol"] for m in doc["markets"]] == ["ETH/BTC", "LTC/BTC"]
    assert doc["config"]["initial_cash"] == "1"


def test_other_strategies_and_parameters(capsys):
    # In-process (same argument parsing and output) to keep the suite quick.
    from nija.services.cli import main

    assert main(["backtest", "--strategy", "bollinger_reversion", "--data", str(DATA / "XLM_BTC-5m.csv"),
                 "--param", "exit_at=upper", "--no-progress"]) == 0
    assert "strategy bollinger_reversion on XLM/BTC" in capsys.readouterr().out


def test_errors_are_one_clear_line(capsys):
    from nija.services.cli import main

    cases = [
        (["--strategy", "nope", "--data", str(DATA / "ETH_BTC-5m.csv")], "unknown strategy 'nope'"),
        (["--strategy", "apex", "--data", "/no/such.csv"], "cannot read /no/such.csv"),
        (["--strategy", "apex", "--data", str(DATA / "ETH_BTC-5m.csv"), "--param", "oversold=80"],
         "parameter oversold must be <= 50.0"),
        (["--strategy", "apex", "--data", str(DATA / "ETH_BTC-5m.csv"), "--param", "oversold"], "key=value"),
        (["--strategy", "apex", "--data", str(DATA / "ETH_BTC-5m.csv"), "--cash", "lots"], "decimal numbers"),
    ]
    for args, message in cases:
        assert main(["backtest", *args]) == 2, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (args, err)
    # And as a real process: exit status 2, no traceback.
    out = nija("backtest", "--strategy", "apex", "--data", "/no/such.csv")
    assert out.returncode == 2 and "Traceback" not in out.stderr and "cannot read" in out.stderr
