"""Risk over HTTP through Envoy on a real `nija up` (embedded NATS): the caller's risk state and
the admin's global kill switch."""

from __future__ import annotations

from e2e_support import PASSWORD, admin_token
from helpers import http, unique_email


def user_token(nija) -> str:
    email = unique_email("risk-http")
    http("POST", f"{nija.base}/api/v1/auth/register", {"email": email, "password": PASSWORD})
    status, _, tokens = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, tokens
    return tokens["access_token"]


def test_risk_state_and_the_global_kill_switch_over_http(nija):
    token, admin = user_token(nija), admin_token(nija)
    status, _, state = http("GET", f"{nija.base}/api/v1/risk/state", token=token)
    assert status == 200, state
    names = {limit["name"] for limit in state["limits"]}
    assert {"trades_per_day", "open_positions", "position_size_min_pct", "max_drawdown_pct"} <= names
    assert state.get("global_kill_switch", False) is False

    status, _, body = http("POST", f"{nija.base}/api/v1/admin/kill-switch", {"active": True}, token=token)
    assert status == 403, body
    try:
        status, _, switch = http("POST", f"{nija.base}/api/v1/admin/kill-switch",
                                 {"active": True, "flatten": True, "reason": "e2e"}, token=admin)
        assert status == 200, switch
        assert switch["active"] and switch["flatten"] and switch["reason"] == "e2e" and switch["changed_by"]
        status, _, state = http("GET", f"{nija.base}/api/v1/risk/state", token=token)
        assert status == 200 and state["global_kill_switch"] is True
    finally:
        status, _, switch = http("POST", f"{nija.base}/api/v1/admin/kill-switch", {"active": False, "reason": "over"},
                                 token=admin)
    assert status == 200 and not switch.get("active", False)
    status, _, body = http("POST", f"{nija.base}/api/v1/admin/kill-switch", {"active": True, "reason": "x" * 501},
                           token=admin)
    assert status == 400 and "reason" in body["message"]
