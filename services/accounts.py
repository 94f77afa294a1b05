"""``nija.accounts.v1.AccountsService``: proto ⇄ :class:`nija.core.accounts.AccountService`."""

from __future__ import annotations

from google.protobuf import empty_pb2, struct_pb2

from nija.accounts.v1 import accounts_pb2, accounts_pb2_grpc
from nija.core.accounts import AccountService, SettingsView, Tokens, UserView
from nija.core.money import decimal_to_str
from nija.services.context import current

_SCALAR_SETTINGS = (
    "max_position_size",
    "max_concurrent_positions",
    "max_daily_loss_pct",
    "max_daily_loss_usd",
    "risk_level",
    "notifications_enabled",
)


def _user(user: UserView) -> accounts_pb2.User:
    return accounts_pb2.User(id=user.id, email=user.email, roles=list(user.roles), created_at=user.created_at)


def _tokens(tokens: Tokens) -> accounts_pb2.TokenPair:
    return accounts_pb2.TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        token_type="Bearer",
    )


def _settings(view: SettingsView) -> accounts_pb2.Settings:
    pairs = struct_pb2.ListValue()
    pairs.extend(list(view.allowed_pairs))
    return accounts_pb2.Settings(
        max_position_size=decimal_to_str(view.max_position_size),
        max_concurrent_positions=view.max_concurrent_positions,
        max_daily_loss_pct=decimal_to_str(view.max_daily_loss_pct),
        risk_level=view.risk_level,
        allowed_pairs=pairs,
        notifications_enabled=view.notifications_enabled,
        max_daily_loss_usd=decimal_to_str(view.max_daily_loss_usd),
    )


def _settings_changes(msg: accounts_pb2.Settings) -> dict:
    """Only the fields the caller sent (proto3 ``optional`` gives presence)."""
    changes = {name: getattr(msg, name) for name in _SCALAR_SETTINGS if msg.HasField(name)}
    if msg.HasField("allowed_pairs"):
        # ListValue values arrive as JSON types; non-strings are rejected by core's validation.
        changes["allowed_pairs"] = [
            v.string_value if v.WhichOneof("kind") == "string_value" else v for v in msg.allowed_pairs.values
        ]
    return changes


class AccountsServicer(accounts_pb2_grpc.AccountsServiceServicer):
    def __init__(self, accounts: AccountService) -> None:
        self.accounts = accounts

    async def Register(self, request, context):
        return _user(await self.accounts.register(request.email, request.password, client_ip=current().client_ip))

    async def Login(self, request, context):
        return _tokens(await self.accounts.login(request.email, request.password, client_ip=current().client_ip))

    async def Logout(self, request, context):
        call = current()
        await self.accounts.logout(call.claims, request.refresh_token, client_ip=call.client_ip)
        return empty_pb2.Empty()

    async def Refresh(self, request, context):
        return _tokens(await self.accounts.refresh(request.refresh_token, client_ip=current().client_ip))

    async def RequestPasswordReset(self, request, context):
        await self.accounts.request_password_reset(request.email, client_ip=current().client_ip)
        return empty_pb2.Empty()

    async def ConfirmPasswordReset(self, request, context):
        await self.accounts.confirm_password_reset(request.token, request.new_password, client_ip=current().client_ip)
        return empty_pb2.Empty()

    async def ChangePassword(self, request, context):
        call = current()
        await self.accounts.change_password(
            call.user_id, request.current_password, request.new_password, client_ip=call.client_ip
        )
        return empty_pb2.Empty()

    async def GetMe(self, request, context):
        return _user(await self.accounts.get_user(current().user_id))

    async def GetSettings(self, request, context):
        return _settings(await self.accounts.get_settings(current().user_id))

    async def UpdateSettings(self, request, context):
        call = current()
        view = await self.accounts.update_settings(
            call.user_id, _settings_changes(request.settings), client_ip=call.client_ip
        )
        return _settings(view)
