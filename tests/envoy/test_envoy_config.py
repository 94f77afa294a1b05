"""The generated Envoy configuration is valid for the real Envoy binary, and a broken one is not."""

from __future__ import annotations

import subprocess

import pytest

from nija.core.security import KeyStore
from nija.services import edge


def _render(tmp_path, **overrides):
    settings = edge.EdgeSettings(
        http_host="127.0.0.1", http_port=18080, admin_port=19901, grpc_host="127.0.0.1", grpc_port=15051,
        jwt_issuer="nija", jwt_audience="nija-api",
    )
    keys = KeyStore(tmp_path / "keys").load()
    return edge.render(settings, keys.jwks(), tmp_path / "envoy", tmp_path / "logs")


def _validate(path):
    return subprocess.run([edge.envoy_binary(), "--mode", "validate", "-c", str(path)], capture_output=True, text=True, timeout=60)


def test_generated_config_validates(tmp_path):
    result = _validate(_render(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr


def test_validation_catches_a_broken_config(tmp_path):
    path = _render(tmp_path)
    text = path.read_text().replace("nija.platform.v1.PlatformService", "nija.nope.v1.NoService")
    path.write_text(text)
    result = _validate(path)
    assert result.returncode != 0


def test_deny_by_default_rule_comes_last(tmp_path):
    text = _render(tmp_path).read_text()
    rules = text[text.index("rules:"):text.index("- name: envoy.filters.http.grpc_json_transcoder")]
    assert rules.rstrip().endswith("requires: {provider_name: nija}")
    for public in edge.PUBLIC_PATHS:
        assert f'path: "{public}"' in rules
    assert "/api/v1/auth/me" not in rules


def test_jwks_holds_every_signing_key(tmp_path):
    import json

    keys = KeyStore(tmp_path / "keys").load()
    second = keys.rotate()
    jwks = keys.jwks()
    kids = [k["kid"] for k in jwks["keys"]]
    assert len(kids) == 2 and len(set(kids)) == 2 and second in kids
    assert keys.active_kid == second
    assert all(k["kty"] == "EC" and k["alg"] == "ES256" and "d" not in k for k in jwks["keys"])
    json.dumps(jwks)


def test_rate_limit_filter_asks_the_service_with_the_verified_subject_and_fails_open(tmp_path):
    settings = edge.EdgeSettings(
        http_host="127.0.0.1", http_port=18080, admin_port=19901, grpc_host="127.0.0.1", grpc_port=15051,
        jwt_issuer="nija", jwt_audience="nija-api", ratelimit_port=15052,
    )
    keys = KeyStore(tmp_path / "keys").load()
    path = edge.render(settings, keys.jwks(), tmp_path / "envoy", tmp_path / "logs")
    result = _validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
    text = path.read_text()
    assert "claim_to_headers: [{header_name: x-nija-user, claim_name: sub}]" in text
    assert "request_headers: {header_name: x-nija-user, descriptor_key: user}" in text
    limiter = text[text.index("envoy.filters.http.ratelimit"):text.index("envoy.filters.http.router")]
    assert "failure_mode_deny: false" in limiter and "domain: nija" in limiter
    cluster = text[text.index("- name: nija_ratelimit"):]
    assert "port_value: 15052" in cluster and "address: 127.0.0.1" in cluster
