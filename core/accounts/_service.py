from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from nija.core import audit
from nija.core.accounts._settings import DEFAULT_SETTINGS, SettingsView, validate_settings_update
from nija.core.clock import Clock, SystemClock
from nija.core.config import Config
from nija.core.db import Database, Prepared
from nija.core.db.models import auth_failures, password_resets, refresh_tokens, user_settings, users
from nija.core.errors import AlreadyExists, InvalidArgument, NotFound, RateLimited, Unauthenticated
from nija.core.notify import Notifier, OutboxNotifier
from nija.core.security import AccessClaims, PasswordHasher, TokenIssuer, hash_opaque_token, new_opaque_token

log = logging.getLogger(__name__)

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
ROLES = ("user", "admin")


@dataclass(frozen=True)
class UserView:
    id: str
    email: str
    roles: tuple[str, ...]
    created_at: int


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int


def normalize_email(raw: str) -> str:
    """Validated, lower-cased address; :class:`InvalidArgument` (field ``email``) otherwise."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidArgument("email is required", field="email")
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidArgument(f"email is not valid: {exc}", field="email") from None
    return info.normalized.lower()


def check_password_policy(password: str, field: str = "password") -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidArgument(f"{field} must be at least {MIN_PASSWORD} characters", field=field)
    if len(password) > MAX_PASSWORD:
        raise InvalidArgument(f"{field} must be at most {MAX_PASSWORD} characters", field=field)


def _user_view(row) -> UserView:
    return UserView(
        id=row.id,
        email=row.email,
        roles=tuple(r for r in row.roles.split(",") if r),
        created_at=row.created_at,
    )


# Read by risk on every order (built once, executed with parameters).
_SETTINGS_OF = Prepared(select(user_settings).where(user_settings.c.user_id == bindparam("b_user")))


class AccountService:
    """Accounts and authentication. Every method is one unit of work on ``db``."""

    def __init__(
        self,
        db: Database,
        tokens: TokenIssuer,
        config: Config,
        *,
        clock: Clock | None = None,
        hasher: PasswordHasher | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.db = db
        self.tokens = tokens
        self.config = config
        self.clock = clock or SystemClock()
        self.hasher = hasher or PasswordHasher()
        self.notifier = notifier or OutboxNotifier()

    # ------------------------------------------------------------------ registration
    async def register(self, email: str, password: str, *, client_ip: str | None = None, roles=("user",)) -> UserView:
        address = normalize_email(email)
        check_password_policy(password)
        password_hash = await self.hasher.hash(password)
        now = self.clock.now_ms()
        user_id = str(uuid.uuid4())
        try:
            async with self.db.transaction() as conn:
                await conn.execute(
                    insert(users).values(
                        id=user_id,
                        email=address,
                        password_hash=password_hash,
                        roles=",".join(roles),
                        created_at=now,
                        disabled=False,
                    )
                )
                await audit.record(conn, action="auth.register", outcome="success", at=now, user_id=user_id, client_ip=client_ip)
        except IntegrityError:
            async with self.db.transaction() as conn:
                await audit.record(
                    conn, action="auth.register", outcome="failure", at=now, client_ip=client_ip,
                    detail={"reason": "email_taken"},
                )
            raise AlreadyExists("an account with this email already exists") from None
        return UserView(id=user_id, email=address, roles=tuple(roles), created_at=now)

    async def bootstrap_admin(self, email: str, password: str) -> tuple[UserView, bool]:
        """Create an admin, or grant the admin role to an existing user (password unchanged).
        Returns the user and whether it was created."""
        address = normalize_email(email)
        # A write unit: the roles read are the roles rewritten (no concurrent role change lost).
        async with self.db.transaction(write=True) as conn:
            row = (await conn.execute(select(users).where(users.c.email == address).with_for_update())).first()
            if row is not None:
                roles = [r for r in row.roles.split(",") if r]
                if "admin" not in roles:
                    roles.append("admin")
                    await conn.execute(update(users).where(users.c.id == row.id).values(roles=",".join(roles)))
                await audit.record(
                    conn, action="admin.bootstrap", outcome="success", at=self.clock.now_ms(), user_id=row.id,
                    client_ip="cli", detail={"created": False},
                )
                return UserView(row.id, row.email, tuple(roles), row.created_at), False
        user = await self.register(address, password, client_ip="cli", roles=("user", "admin"))
        async with self.db.transaction() as conn:
            await audit.record(
                conn, action="admin.bootstrap", outcome="success", at=self.clock.now_ms(), user_id=user.id,
                client_ip="cli", detail={"created": True},
            )
        return user, True

    # ------------------------------------------------------------------ sessions
    async def _throttle_keys(self, conn: AsyncConnection, keys: list[tuple[str, int]], now: int) -> None:
        since = now - self.config.login_failure_window_s * 1000
        for key, limit in keys:
            count = (
                await conn.execute(
                    select(func.count()).select_from(auth_failures).where(
                        and_(auth_failures.c.key == key, auth_failures.c.at > since)
                    )
                )
            ).scalar_one()
            if count >= limit:
                raise RateLimited(
                    "too many failed attempts; try again later", retry_after=self.config.login_failure_window_s
                )

    async def _new_session(self, conn: AsyncConnection, user_id: str, roles, family_id: str, now: int) -> Tokens:
        refresh = new_opaque_token()
        await conn.execute(
            insert(refresh_tokens).values(
                id=str(uuid.uuid4()),
                family_id=family_id,
                user_id=user_id,
                token_hash=hash_opaque_token(refresh),
                created_at=now,
                expires_at=now + self.config.refresh_token_ttl_s * 1000,
            )
        )
        access = self.tokens.issue(user_id, roles, family_id, now)
        return Tokens(access_token=access, refresh_token=refresh, expires_in=self.tokens.ttl_s)

    async def login(self, email: str, password: str, *, client_ip: str | None = None) -> Tokens:
        try:
            address = normalize_email(email)
        except InvalidArgument:
            address = str(email or "").strip().lower()[:320]
        now = self.clock.now_ms()
        throttle = [(f"account:{address}", self.config.login_failures_per_account)]
        if client_ip:
            throttle.append((f"ip:{client_ip}", self.config.login_failures_per_ip))
        async with self.db.transaction() as conn:
            await self._throttle_keys(conn, throttle, now)
            row = (
                await conn.execute(select(users).where(and_(users.c.email == address, users.c.deleted_at.is_(None))))
            ).first()
        ok = await self.hasher.verify(row.password_hash if row else None, password or "")
        if not ok or row is None or row.disabled:
            async with self.db.transaction() as conn:
                await conn.execute(insert(auth_failures), [{"key": key, "at": now} for key, _ in throttle])
                await audit.record(
                    conn, action="auth.login", outcome="failure", at=now, user_id=row.id if row else None,
                    client_ip=client_ip, detail={"reason": "disabled" if ok else "bad_credentials"},
                )
            raise Unauthenticated("wrong email or password")
        async with self.db.transaction() as conn:
            await conn.execute(delete(auth_failures).where(auth_failures.c.key == f"account:{address}"))
            tokens = await self._new_session(conn, row.id, _user_view(row).roles, str(uuid.uuid4()), now)
            await audit.record(conn, action="auth.login", outcome="success", at=now, user_id=row.id, client_ip=client_ip)
        return tokens

    async def refresh(self, refresh_token: str, *, client_ip: str | None = None) -> Tokens:
        if not refresh_token:
            raise InvalidArgument("refresh_token is required", field="refresh_token")
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            token = (
                await conn.execute(
                    select(refresh_tokens).where(refresh_tokens.c.token_hash == hash_opaque_token(refresh_token))
                )
            ).first()
            if token is None:
                raise Unauthenticated("invalid refresh token")
            if token.revoked_at is not None:
                raise Unauthenticated("refresh token revoked")
            if token.expires_at <= now:
                raise Unauthenticated("refresh token expired")
            # Conditional update: of two concurrent uses, exactly one wins; the loser is a replay.
            claimed = await conn.execute(
                update(refresh_tokens)
                .where(and_(refresh_tokens.c.id == token.id, refresh_tokens.c.used_at.is_(None)))
                .values(used_at=now)
            )
            user = None
            if claimed.rowcount == 1:
                user = (
                    await conn.execute(
                        select(users).where(
                            and_(users.c.id == token.user_id, users.c.deleted_at.is_(None), users.c.disabled.is_(False))
                        )
                    )
                ).first()
            if claimed.rowcount == 1 and user is not None:
                tokens = await self._new_session(conn, user.id, _user_view(user).roles, token.family_id, now)
                await audit.record(conn, action="auth.refresh", outcome="success", at=now, user_id=user.id, client_ip=client_ip)
                return tokens
        # Reuse of a rotated token (or a disabled user): revoke the whole family.
        async with self.db.transaction() as conn:
            await self._revoke_families(conn, refresh_tokens.c.family_id == token.family_id, now)
            await audit.record(
                conn, action="auth.refresh", outcome="failure", at=now, user_id=token.user_id, client_ip=client_ip,
                detail={"reason": "token_reuse" if claimed.rowcount != 1 else "user_inactive", "family_revoked": True},
            )
        log.warning("refresh token reuse for user %s: family revoked", token.user_id)
        raise Unauthenticated("refresh token already used; the session has been revoked")

    @staticmethod
    async def _revoke_families(conn: AsyncConnection, condition, now: int) -> None:
        await conn.execute(
            update(refresh_tokens).where(and_(condition, refresh_tokens.c.revoked_at.is_(None))).values(revoked_at=now)
        )

    async def logout(self, claims: AccessClaims, refresh_token: str = "", *, client_ip: str | None = None) -> None:
        now = self.clock.now_ms()
        families = {claims.session_id} if claims.session_id else set()
        async with self.db.transaction() as conn:
            if refresh_token:
                row = (
                    await conn.execute(
                        select(refresh_tokens.c.family_id).where(
                            and_(
                                refresh_tokens.c.token_hash == hash_opaque_token(refresh_token),
                                refresh_tokens.c.user_id == claims.user_id,  # never someone else's session
                            )
                        )
                    )
                ).first()
                if row is not None:
                    families.add(row.family_id)
            if families:
                await self._revoke_families(
                    conn,
                    and_(refresh_tokens.c.user_id == claims.user_id, refresh_tokens.c.family_id.in_(families)),
                    now,
                )
            await audit.record(conn, action="auth.logout", outcome="success", at=now, user_id=claims.user_id, client_ip=client_ip)

    # ------------------------------------------------------------------ passwords
    async def change_password(
        self, user_id: str, current_password: str, new_password: str, *, client_ip: str | None = None
    ) -> None:
        check_password_policy(new_password, "new_password")
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
        if row is None:
            raise Unauthenticated("unknown user")
        if not await self.hasher.verify(row.password_hash, current_password or ""):
            async with self.db.transaction() as conn:
                await audit.record(
                    conn, action="auth.change_password", outcome="failure", at=now, user_id=user_id,
                    client_ip=client_ip, detail={"reason": "wrong_current_password"},
                )
            raise InvalidArgument("current_password is wrong", field="current_password")
        new_hash = await self.hasher.hash(new_password)
        async with self.db.transaction() as conn:
            await conn.execute(update(users).where(users.c.id == user_id).values(password_hash=new_hash))
            await self._revoke_families(conn, refresh_tokens.c.user_id == user_id, now)
            await audit.record(conn, action="auth.change_password", outcome="success", at=now, user_id=user_id, client_ip=client_ip)

    async def request_password_reset(self, email: str, *, client_ip: str | None = None) -> None:
        """Same outcome whether or not the email is known (no account enumeration)."""
        address = normalize_email(email)
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(select(users).where(and_(users.c.email == address, users.c.deleted_at.is_(None))))
            ).first()
            if row is None:
                await audit.record(
                    conn, action="auth.reset_request", outcome="ignored", at=now, client_ip=client_ip,
                    detail={"reason": "unknown_email"},
                )
                return
            token = new_opaque_token()
            await conn.execute(
                insert(password_resets).values(
                    token_hash=hash_opaque_token(token),
                    user_id=row.id,
                    created_at=now,
                    expires_at=now + self.config.reset_token_ttl_s * 1000,
                )
            )
            await self.notifier.send(
                conn, user_id=row.id, recipient=row.email, kind="password_reset",
                payload={"token": token, "expires_in": self.config.reset_token_ttl_s}, at=now,
            )
            await audit.record(conn, action="auth.reset_request", outcome="success", at=now, user_id=row.id, client_ip=client_ip)

    async def confirm_password_reset(self, token: str, new_password: str, *, client_ip: str | None = None) -> None:
        if not token:
            raise InvalidArgument("token is required", field="token")
        check_password_policy(new_password, "new_password")
        new_hash = await self.hasher.hash(new_password)
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            claimed = await conn.execute(
                update(password_resets)
                .where(
                    and_(
                        password_resets.c.token_hash == hash_opaque_token(token),
                        password_resets.c.used_at.is_(None),
                        password_resets.c.expires_at > now,
                    )
                )
                .values(used_at=now)
                .returning(password_resets.c.user_id)
            )
            row = claimed.first()
            if row is not None:
                await conn.execute(update(users).where(users.c.id == row.user_id).values(password_hash=new_hash))
                await self._revoke_families(conn, refresh_tokens.c.user_id == row.user_id, now)
                await audit.record(conn, action="auth.reset_confirm", outcome="success", at=now, user_id=row.user_id, client_ip=client_ip)
                return
        async with self.db.transaction() as conn:
            await audit.record(conn, action="auth.reset_confirm", outcome="failure", at=now, client_ip=client_ip)
        raise InvalidArgument("reset token is invalid, expired or already used", field="token")

    # ------------------------------------------------------------------ profile and settings
    async def get_user(self, user_id: str) -> UserView:
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(select(users).where(and_(users.c.id == user_id, users.c.deleted_at.is_(None))))
            ).first()
        if row is None:
            raise NotFound("user not found")
        return _user_view(row)

    async def get_settings(self, user_id: str) -> SettingsView:
        async with self.db.transaction() as conn:
            return await self._load_settings(conn, user_id)

    @staticmethod
    async def _load_settings(conn: AsyncConnection, user_id: str) -> SettingsView:
        row = (await _SETTINGS_OF.execute(conn, {"b_user": user_id})).first()
        if row is None:
            return DEFAULT_SETTINGS
        return SettingsView(
            max_position_size=Decimal(row.max_position_size),
            max_concurrent_positions=row.max_concurrent_positions,
            max_daily_loss_pct=Decimal(row.max_daily_loss_pct),
            risk_level=row.risk_level,
            allowed_pairs=tuple(row.allowed_pairs or ()),
            notifications_enabled=row.notifications_enabled,
            max_daily_loss_usd=Decimal(row.max_daily_loss_usd) if row.max_daily_loss_usd is not None else Decimal(0),
        )

    #: The user's settings inside the caller's transaction (risk reads them under its row lock).
    load_settings = _load_settings

    async def update_settings(self, user_id: str, changes: dict, *, client_ip: str | None = None) -> SettingsView:
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            current = await self._load_settings(conn, user_id)
            new = validate_settings_update(current, changes)
            values = {
                "max_position_size": new.max_position_size,
                "max_concurrent_positions": new.max_concurrent_positions,
                "max_daily_loss_pct": new.max_daily_loss_pct,
                "risk_level": new.risk_level,
                "allowed_pairs": list(new.allowed_pairs),
                "notifications_enabled": new.notifications_enabled,
                "max_daily_loss_usd": new.max_daily_loss_usd,
                "updated_at": now,
            }
            done = await conn.execute(update(user_settings).where(user_settings.c.user_id == user_id).values(**values))
            if done.rowcount == 0:
                await conn.execute(insert(user_settings).values(user_id=user_id, **values))
            await audit.record(
                conn, action="settings.update", outcome="success", at=now, user_id=user_id, client_ip=client_ip,
                detail={"fields": sorted(changes)},
            )
        return new
