"""Risk settings: a USD cap on the day's loss beside the percent one.

Revision ID: 0301_risk_settings
Revises: 0300_risk
"""

from alembic import op
import sqlalchemy as sa

revision = "0301_risk_settings"
down_revision = "0300_risk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: existing rows read as 0 (no USD cap).
    with op.batch_alter_table("user_settings") as batch:
        batch.add_column(sa.Column("max_daily_loss_usd", sa.Numeric(20, 8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_settings") as batch:
        batch.drop_column("max_daily_loss_usd")
