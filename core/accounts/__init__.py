"""User accounts: registration, login with rotating refresh tokens, password changes and resets,
per-user settings."""

from nija.core.accounts._service import AccountService, Tokens, UserView
from nija.core.accounts._settings import DEFAULT_SETTINGS, SettingsView, validate_settings_update

__all__ = [
    "AccountService",
    "DEFAULT_SETTINGS",
    "SettingsView",
    "Tokens",
    "UserView",
    "validate_settings_update",
]
