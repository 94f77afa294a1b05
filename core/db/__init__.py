"""Persistence: the SQLAlchemy schema, the async engine, and Alembic migrations.

SQLite (the embedded default) and PostgreSQL run the same migrations. Sessions are opened per
unit of work by the callers at the service edge; plugins never see them.
"""

from nija.core.db._database import Database, migrate
from nija.core.db._prepared import Prepared
from nija.core.db import models

__all__ = ["Database", "Prepared", "migrate", "models"]
