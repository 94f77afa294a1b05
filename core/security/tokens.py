from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nija.core.errors import Unauthenticated

log = logging.getLogger(__name__)

ALGORITHM = "ES256"


def new_opaque_token() -> str:
    """A random bearer secret (refresh or reset token); 256 bits."""
    return secrets.token_urlsafe(32)


def hash_opaque_token(token: str) -> str:
    """What is stored instead of an opaque token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class KeyStore:
    """ES256 signing keys, one PEM file per ``kid`` in a folder shared by all services.

    The newest key signs; every key in the folder verifies, so a key can be added (rotation)
    before the old one is removed. The JWKS of the public keys is what Envoy validates with.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._active: str | None = None

    def load(self, *, create: bool = True) -> "KeyStore":
        self.folder.mkdir(parents=True, exist_ok=True)
        files = sorted(self.folder.glob("*.pem"), key=lambda p: (p.stat().st_mtime, p.name))
        if not files and create:
            self.rotate()
            return self
        self._keys = {}
        for path in files:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{path}: not an EC private key")
            self._keys[path.stem] = key
        self._active = files[-1].stem if files else None
        return self

    def rotate(self) -> str:
        """Create a new signing key; it becomes the active one. Returns its kid."""
        kid = uuid.uuid4().hex[:16]
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = self.folder / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        log.info("created JWT signing key kid=%s in %s", kid, self.folder)
        self.load(create=False)
        return kid

    @property
    def active_kid(self) -> str:
        if self._active is None:
            raise RuntimeError("no signing key loaded")
        return self._active

    def private_key(self, kid: str) -> ec.EllipticCurvePrivateKey:
        return self._keys[kid]

    def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        key = self._keys.get(kid)
        return key.public_key() if key else None

    def jwks(self) -> dict:
        keys = []
        for kid, key in self._keys.items():
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
            keys.append(jwk)
        return {"keys": keys}


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    roles: tuple[str, ...]
    session_id: str
    expires_at: int

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class TokenIssuer:
    """Signs and verifies access JWTs (ES256, ``kid`` header)."""

    def __init__(self, keys: KeyStore, *, issuer: str, audience: str, ttl_s: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s

    def issue(self, user_id: str, roles: list[str] | tuple[str, ...], session_id: str, now_ms: int) -> str:
        now = now_ms // 1000
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "roles": list(roles),
            "sid": session_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
        }
        kid = self.keys.active_kid
        return jwt.encode(claims, self.keys.private_key(kid), algorithm=ALGORITHM, headers={"kid": kid})

    def verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed access token") from None
        key = self.keys.public_key(str(header.get("kid", "")))
        if key is None:
            raise Unauthenticated("access token signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("access token expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid access token") from None
        return AccessClaims(
            user_id=str(claims["sub"]),
            roles=tuple(claims.get("roles") or ()),
            session_id=str(claims.get("sid", "")),
            expires_at=int(claims["exp"]),
        )
