"""The admin console: users, their plan and risk picture, soft deletion, platform metrics and
the audit log. Every method takes the acting admin's id and writes an audit record."""

from nija.core.admin._console import (
    PLANS,
    AdminConsole,
    AuditEntry,
    AuditFilter,
    BotRow,
    MetricsView,
    Page,
    RiskStateView,
    UserDetailView,
    UserRow,
)

__all__ = [
    "PLANS",
    "AdminConsole",
    "AuditEntry",
    "AuditFilter",
    "BotRow",
    "MetricsView",
    "Page",
    "RiskStateView",
    "UserDetailView",
    "UserRow",
]
