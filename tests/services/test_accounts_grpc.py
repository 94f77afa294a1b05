"""Every AccountsService RPC over a real gRPC channel, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2, status_pb2
from sqlalchemy import select, text

from helpers import bearer, unique_email, unique_ip
from nija.accounts.v1 import accounts_pb2 as pb
from nija.accounts.v1 import accounts_pb2_grpc
from nija.core.db.models import audit_log, outbox

PASSWORD = "correct horse battery staple"


@pytest.fixture
def stub(grpc_platform):
    return accounts_pb2_grpc.AccountsServiceStub(grpc_platform.channel)


@pytest.fixture
def ip():
    return unique_ip()


async def register_and_login(stub, ip, email=None, password=PASSWORD):
    email = email or unique_email()
    user = await stub.Register(pb.RegisterRequest(email=email, password=password), metadata=(("x-forwarded-for", ip),))
    tokens = await stub.Login(pb.LoginRequest(email=email, password=password), metadata=(("x-forwarded-for", ip),))
    return user, tokens


def status_details(err: grpc.aio.AioRpcError) -> list:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return list(status_pb2.Status.FromString(value).details)
    return []


async def audit_actions(grpc_platform, user_id):
    async with grpc_platform.platform.db.transaction() as conn:
        rows = await conn.execute(select(audit_log).where(audit_log.c.user_id == user_id).order_by(audit_log.c.id))
        return [(r.action, r.outcome) for r in rows]


# ---------------------------------------------------------------------------- register
async def test_register_normalises_email_and_returns_user(stub, ip):
    email = unique_email("MiXeD")
    user = await stub.Register(pb.RegisterRequest(email=email.upper(), password=PASSWORD))
    assert user.email == email.lower()
    assert list(user.roles) == ["user"]
    assert user.id and user.created_at > 0


@pytest.mark.parametrize(
    "email,password,field",
    [
        ("not-an-email", PASSWORD, "email"),
        ("", PASSWORD, "email"),
        ("someone@", PASSWORD, "email"),
        (None, "short", "password"),
        (None, "x" * 11, "password"),
        (None, "x" * 1025, "password"),
    ],
)
async def test_register_rejects_bad_input_naming_the_field(stub, email, password, field):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Register(pb.RegisterRequest(email=unique_email() if email is None else email, password=password))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in info.value.details()
    violations = [d for d in status_details(info.value) if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
    assert violations, "a BadRequest detail names the field"
    bad = error_details_pb2.BadRequest()
    violations[0].Unpack(bad)
    assert bad.field_violations[0].field == field


async def test_register_duplicate_email_is_already_exists(stub):
    email = unique_email()
    await stub.Register(pb.RegisterRequest(email=email, password=PASSWORD))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Register(pb.RegisterRequest(email=email.upper(), password=PASSWORD + "!"))
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_password_is_stored_as_argon2id(stub, grpc_platform):
    user = await stub.Register(pb.RegisterRequest(email=unique_email(), password=PASSWORD))
    async with grpc_platform.platform.db.transaction() as conn:
        stored = (await conn.execute(text("SELECT password_hash FROM users WHERE id = :id"), {"id": user.id})).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


# ---------------------------------------------------------------------------- login / me
async def test_login_issues_es256_token_with_kid_and_me_works(stub, ip, grpc_platform):
    import jwt

    user, tokens = await register_and_login(stub, ip)
    header = jwt.get_unverified_header(tokens.access_token)
    assert header["alg"] == "ES256" and header["kid"] == grpc_platform.platform.keys.active_kid
    assert 600 <= tokens.expires_in <= 1800 and tokens.token_type == "Bearer"
    me = await stub.GetMe(pb.GetMeRequest(), metadata=bearer(tokens.access_token))
    assert (me.id, me.email, list(me.roles)) == (user.id, user.email, ["user"])
    assert me.created_at == user.created_at


async def test_me_without_or_with_bad_token_is_unauthenticated(stub, ip):
    _, tokens = await register_and_login(stub, ip)
    for metadata in ((), bearer("garbage"), bearer(tokens.access_token[:-4] + "AAAA"), (("authorization", "Basic x"),)):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.GetMe(pb.GetMeRequest(), metadata=metadata)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_expired_token_is_rejected(stub, ip, grpc_platform):
    from nija.core.clock import SystemClock

    user, _ = await register_and_login(stub, ip)
    old = grpc_platform.platform.tokens.issue(user.id, ["user"], "sid", SystemClock().now_ms() - 3600_000)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetMe(pb.GetMeRequest(), metadata=bearer(old))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "expired" in info.value.details()


async def test_login_failure_does_not_reveal_whether_email_exists(stub, ip):
    user, _ = await register_and_login(stub, ip)
    answers = []
    for email in (user.email, unique_email("nobody")):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Login(pb.LoginRequest(email=email, password="wrong password 123"), metadata=(("x-forwarded-for", ip),))
        answers.append((info.value.code(), info.value.details()))
    assert answers[0] == answers[1] == (grpc.StatusCode.UNAUTHENTICATED, "wrong email or password")


async def test_repeated_failures_are_throttled_per_account(stub, grpc_platform):
    email = unique_email()
    await stub.Register(pb.RegisterRequest(email=email, password=PASSWORD))
    limit = grpc_platform.config.login_failures_per_account
    for _ in range(limit):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            # a different address each time: only the per-account counter can trip
            await stub.Login(pb.LoginRequest(email=email, password="wrong password 123"), metadata=(("x-forwarded-for", unique_ip()),))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Login(pb.LoginRequest(email=email, password=PASSWORD), metadata=(("x-forwarded-for", unique_ip()),))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_repeated_failures_are_throttled_per_client_address(stub, grpc_platform):
    ip = unique_ip()
    limit = grpc_platform.config.login_failures_per_ip
    for _ in range(limit):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Login(pb.LoginRequest(email=unique_email(), password="wrong password 123"), metadata=(("x-forwarded-for", ip),))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    user_email = unique_email()
    await stub.Register(pb.RegisterRequest(email=user_email, password=PASSWORD))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Login(pb.LoginRequest(email=user_email, password=PASSWORD), metadata=(("x-forwarded-for", ip),))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # another address is not affected
    await stub.Login(pb.LoginRequest(email=user_email, password=PASSWORD), metadata=(("x-forwarded-for", unique_ip()),))


# ---------------------------------------------------------------------------- refresh / logout
async def test_refresh_rotates_and_reuse_revokes_the_family(stub, ip):
    _, first = await register_and_login(stub, ip)
    second = await stub.Refresh(pb.RefreshRequest(refresh_token=first.refresh_token))
    assert second.refresh_token != first.refresh_token and second.access_token
    # replaying the rotated token: 401, and the family (including `second`) is revoked
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Refresh(pb.RefreshRequest(refresh_token=first.refresh_token))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Refresh(pb.RefreshRequest(refresh_token=second.refresh_token))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_concurrent_refresh_of_one_token_succeeds_once(stub, ip):
    _, tokens = await register_and_login(stub, ip)
    results = await asyncio.gather(
        *(stub.Refresh(pb.RefreshRequest(refresh_token=tokens.refresh_token)) for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(r, pb.TokenPair) for r in results) <= 1
    assert all(isinstance(r, pb.TokenPair) or r.code() == grpc.StatusCode.UNAUTHENTICATED for r in results)


async def test_refresh_rejects_empty_and_unknown_tokens(stub):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Refresh(pb.RefreshRequest(refresh_token=""))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Refresh(pb.RefreshRequest(refresh_token="not-a-token"))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_logout_revokes_the_family(stub, ip):
    _, tokens = await register_and_login(stub, ip)
    await stub.Logout(pb.LogoutRequest(refresh_token=tokens.refresh_token), metadata=bearer(tokens.access_token))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Refresh(pb.RefreshRequest(refresh_token=tokens.refresh_token))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_logout_cannot_revoke_another_users_session(stub, ip):
    _, alice = await register_and_login(stub, ip)
    _, bob = await register_and_login(stub, ip)
    await stub.Logout(pb.LogoutRequest(refresh_token=alice.refresh_token), metadata=bearer(bob.access_token))
    refreshed = await stub.Refresh(pb.RefreshRequest(refresh_token=alice.refresh_token))
    assert refreshed.refresh_token


async def test_logout_needs_a_token(stub):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Logout(pb.LogoutRequest())
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


# ---------------------------------------------------------------------------- passwords
async def test_change_password_revokes_every_family(stub, ip):
    user, one = await register_and_login(stub, ip)
    two = await stub.Login(pb.LoginRequest(email=user.email, password=PASSWORD))
    new = "an entirely new passphrase"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ChangePassword(
            pb.ChangePasswordRequest(current_password="wrong current pw", new_password=new), metadata=bearer(one.access_token)
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "current_password" in info.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ChangePassword(
            pb.ChangePasswordRequest(current_password=PASSWORD, new_password="short"), metadata=bearer(one.access_token)
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "new_password" in info.value.details()
    await stub.ChangePassword(
        pb.ChangePasswordRequest(current_password=PASSWORD, new_password=new), metadata=bearer(one.access_token)
    )
    for tokens in (one, two):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Refresh(pb.RefreshRequest(refresh_token=tokens.refresh_token))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Login(pb.LoginRequest(email=user.email, password=PASSWORD), metadata=(("x-forwarded-for", ip),))
    assert (await stub.Login(pb.LoginRequest(email=user.email, password=new))).access_token


async def _reset_token_for(grpc_platform, user_id):
    async with grpc_platform.platform.db.transaction() as conn:
        rows = (await conn.execute(select(outbox).where(outbox.c.user_id == user_id).order_by(outbox.c.id))).all()
    assert rows and rows[-1].kind == "password_reset"
    return rows[-1].payload["token"]


async def test_password_reset_is_single_use(stub, ip, grpc_platform):
    user, tokens = await register_and_login(stub, ip)
    await stub.RequestPasswordReset(pb.RequestPasswordResetRequest(email=user.email.upper()))
    token = await _reset_token_for(grpc_platform, user.id)
    new = "reset passphrase number one"
    await stub.ConfirmPasswordReset(pb.ConfirmPasswordResetRequest(token=token, new_password=new))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ConfirmPasswordReset(pb.ConfirmPasswordResetRequest(token=token, new_password="another passphrase 2"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (await stub.Login(pb.LoginRequest(email=user.email, password=new))).access_token
    with pytest.raises(grpc.aio.AioRpcError):  # sessions from before the reset are gone
        await stub.Refresh(pb.RefreshRequest(refresh_token=tokens.refresh_token))


async def test_password_reset_expires(stub, ip, grpc_platform):
    user, _ = await register_and_login(stub, ip)
    await stub.RequestPasswordReset(pb.RequestPasswordResetRequest(email=user.email))
    token = await _reset_token_for(grpc_platform, user.id)
    async with grpc_platform.platform.db.transaction() as conn:
        await conn.execute(text("UPDATE password_resets SET expires_at = 0 WHERE user_id = :id"), {"id": user.id})
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ConfirmPasswordReset(pb.ConfirmPasswordResetRequest(token=token, new_password="never applied passphrase"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_password_reset_for_unknown_email_answers_the_same(stub):
    reply = await stub.RequestPasswordReset(pb.RequestPasswordResetRequest(email=unique_email("ghost")))
    assert reply.ByteSize() == 0
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.RequestPasswordReset(pb.RequestPasswordResetRequest(email="not an email"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# ---------------------------------------------------------------------------- settings
async def test_settings_defaults_and_partial_update(stub, ip):
    _, tokens = await register_and_login(stub, ip)
    md = bearer(tokens.access_token)
    s = await stub.GetSettings(pb.GetSettingsRequest(), metadata=md)
    assert (s.max_position_size, s.max_concurrent_positions, s.max_daily_loss_pct, s.risk_level) == ("100", 3, "10", "medium")
    assert list(s.allowed_pairs.values) == [] and s.notifications_enabled is True
    pairs = struct_pb2.ListValue()
    pairs.extend(["btc/usdt", "ETH/USDT"])
    s = await stub.UpdateSettings(
        pb.UpdateSettingsRequest(settings=pb.Settings(risk_level="high", allowed_pairs=pairs, max_position_size="250.5")),
        metadata=md,
    )
    assert s.risk_level == "high" and s.max_position_size == "250.5"
    assert [v.string_value for v in s.allowed_pairs.values] == ["BTC/USDT", "ETH/USDT"]
    assert s.max_concurrent_positions == 3  # untouched
    again = await stub.GetSettings(pb.GetSettingsRequest(), metadata=md)
    assert again == s


@pytest.mark.parametrize(
    "settings,field",
    [
        (pb.Settings(max_position_size="-1"), "max_position_size"),
        (pb.Settings(max_position_size="abc"), "max_position_size"),
        (pb.Settings(max_position_size="NaN"), "max_position_size"),
        (pb.Settings(max_concurrent_positions=0), "max_concurrent_positions"),
        (pb.Settings(max_daily_loss_pct="100.01"), "max_daily_loss_pct"),
        (pb.Settings(max_daily_loss_pct="0"), "max_daily_loss_pct"),
        (pb.Settings(risk_level="yolo"), "risk_level"),
    ],
)
async def test_settings_bad_values_name_the_field(stub, ip, settings, field):
    _, tokens = await register_and_login(stub, ip)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.UpdateSettings(pb.UpdateSettingsRequest(settings=settings), metadata=bearer(tokens.access_token))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in info.value.details()


async def test_settings_are_scoped_to_the_caller(stub, ip):
    _, alice = await register_and_login(stub, ip)
    _, bob = await register_and_login(stub, ip)
    await stub.UpdateSettings(pb.UpdateSettingsRequest(settings=pb.Settings(risk_level="low")), metadata=bearer(alice.access_token))
    assert (await stub.GetSettings(pb.GetSettingsRequest(), metadata=bearer(bob.access_token))).risk_level == "medium"


# ---------------------------------------------------------------------------- audit
async def test_audit_records_each_account_action(stub, ip, grpc_platform):
    user, tokens = await register_and_login(stub, ip)
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Login(pb.LoginRequest(email=user.email, password="wrong password 123"), metadata=(("x-forwarded-for", ip),))
    md = bearer(tokens.access_token, ip)
    await stub.UpdateSettings(pb.UpdateSettingsRequest(settings=pb.Settings(risk_level="low")), metadata=md)
    await stub.ChangePassword(pb.ChangePasswordRequest(current_password=PASSWORD, new_password=PASSWORD + "2"), metadata=md)
    await stub.RequestPasswordReset(pb.RequestPasswordResetRequest(email=user.email))
    await stub.Logout(pb.LogoutRequest(), metadata=md)
    actions = await audit_actions(grpc_platform, user.id)
    assert actions == [
        ("auth.register", "success"),
        ("auth.login", "success"),
        ("auth.login", "failure"),
        ("settings.update", "success"),
        ("auth.change_password", "success"),
        ("auth.reset_request", "success"),
        ("auth.logout", "success"),
    ]
    async with grpc_platform.platform.db.transaction() as conn:
        row = (await conn.execute(select(audit_log).where(audit_log.c.user_id == user.id, audit_log.c.action == "settings.update"))).first()
    assert row.client_ip == ip and row.at > 0


async def test_audit_log_is_append_only(stub, grpc_platform):
    await stub.Register(pb.RegisterRequest(email=unique_email(), password=PASSWORD))
    for statement in ("UPDATE audit_log SET outcome = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            async with grpc_platform.platform.db.transaction() as conn:
                await conn.execute(text(statement))


# ---------------------------------------------------------------------------- other services
async def test_unimplemented_rpcs_say_so(grpc_platform, stub, ip):
    from nija.market.v1 import market_pb2, market_pb2_grpc

    _, tokens = await register_and_login(stub, ip)
    market = market_pb2_grpc.MarketServiceStub(grpc_platform.channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await market.ListMarkets(market_pb2.ListMarketsRequest(), metadata=bearer(tokens.access_token))
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "ListMarkets is not implemented yet" in info.value.details()


async def test_admin_rpcs_need_the_admin_role(grpc_platform, stub, ip):
    from nija.admin.v1 import admin_pb2, admin_pb2_grpc

    _, tokens = await register_and_login(stub, ip)
    admin = admin_pb2_grpc.AdminServiceStub(grpc_platform.channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await admin.ListUsers(admin_pb2.ListUsersRequest(), metadata=bearer(tokens.access_token))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    email = unique_email("admin")
    await grpc_platform.platform.accounts.bootstrap_admin(email, PASSWORD)
    admin_tokens = await stub.Login(pb.LoginRequest(email=email, password=PASSWORD))
    # The admin console (tests/admin) answers the admin.
    found = await admin.ListUsers(admin_pb2.ListUsersRequest(email_contains=email), metadata=bearer(admin_tokens.access_token))
    assert [u.email for u in found.users] == [email]


async def test_unexpected_exception_becomes_generic_internal(grpc_platform, stub, ip, monkeypatch, caplog):
    user, tokens = await register_and_login(stub, ip)

    async def boom(user_id):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(grpc_platform.platform.accounts, "get_user", boom)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetMe(pb.GetMeRequest(), metadata=bearer(tokens.access_token) + (("x-request-id", "req-123"),))
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert "secret internal detail" not in info.value.details()
    assert "req-123" in info.value.details()
    assert "req-123" in caplog.text and "secret internal detail" in caplog.text


async def test_server_streaming_rpcs_are_authenticated_too(grpc_platform, stub, ip):
    from nija.trading.v1 import trading_pb2, trading_pb2_grpc

    trading = trading_pb2_grpc.TradingServiceStub(grpc_platform.channel)
    call = trading.StreamEvents(trading_pb2.StreamEventsRequest())
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in call:
            pass
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    _, tokens = await register_and_login(stub, ip)
    call = trading.StreamEvents(trading_pb2.StreamEventsRequest(), metadata=bearer(tokens.access_token), timeout=1.0)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in call:
            pass
    # an authenticated stream stays open (no events yet) until the deadline
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
