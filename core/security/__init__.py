"""Passwords (argon2id), signing keys with a ``kid`` and their JWKS, access tokens, and opaque
secrets stored only as hashes."""

from nija.core.security.passwords import PasswordHasher
from nija.core.security.tokens import AccessClaims, KeyStore, TokenIssuer, new_opaque_token, hash_opaque_token

__all__ = [
    "AccessClaims",
    "KeyStore",
    "PasswordHasher",
    "TokenIssuer",
    "hash_opaque_token",
    "new_opaque_token",
]
