"""GET /api/v1/plugins through Envoy: the strategy catalogue with parameter forms."""

from __future__ import annotations

from helpers import http, unique_email

PASSWORD = "correct horse battery staple"


def test_plugins_with_parameter_forms_over_rest(nija):
    email = unique_email()
    http("POST", f"{nija.base}/api/v1/auth/register", {"email": email, "password": PASSWORD})
    _, _, tokens = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    status, _, body = http("GET", f"{nija.base}/api/v1/plugins")
    assert status == 401
    status, _, body = http("GET", f"{nija.base}/api/v1/plugins", token=tokens["access_token"])
    assert status == 200
    plugins = {(p["kind"], p["name"]): p for p in body["plugins"]}
    apex = plugins[("strategy", "apex")]
    assert apex["distribution"] == "nija-strategy-apex"
    params = {p["name"]: p for p in apex["parameters"]}
    assert params["rsi_fast"]["type"] == "int" and params["rsi_fast"]["default"] == "9"
    assert params["stop_atr"]["minimum"] == "0.1" and params["stop_atr"]["maximum"] == "20.0"
    assert {("strategy", "macd_trend"), ("strategy", "bollinger_reversion")} <= set(plugins)
