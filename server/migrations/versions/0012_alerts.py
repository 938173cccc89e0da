"""alerts: channels, rules, episodes, the outbox and its attempts, the evaluator lease, user choices

Revision ID: 0012_alerts
Revises: 0011_backflush
Create Date: 2026-12-04 23:49:54.860874
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012_alerts'
down_revision: str | None = '0011_backflush'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('alert_channel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=True),
    sa.Column('secret_box', sa.Text(), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('last_error_ms', sa.BigInteger(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('alert_lease',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=100), nullable=False),
    sa.Column('until_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('alert_contact',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('alert_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('to_address', sa.String(length=200), nullable=True),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('not_before_ms', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_until_ms', sa.BigInteger(), nullable=True),
    sa.Column('sent_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['channel_id'], ['alert_channel.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_message_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index('ix_alert_message_due', ['state', 'not_before_ms'], unique=False)

    op.create_table('alert_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('answer', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['alert_message.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_attempt_message_id'), ['message_id'], unique=False)

    op.create_table('alert_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('line_id', sa.Integer(), nullable=True),
    sa.Column('machine_id', sa.Integer(), nullable=True),
    sa.Column('channel_ids', sa.JSON(), nullable=True),
    sa.Column('roles', sa.JSON(), nullable=True),
    sa.Column('quiet_from', sa.String(length=5), nullable=True),
    sa.Column('quiet_to', sa.String(length=5), nullable=True),
    sa.Column('escalate_after_min', sa.Float(), nullable=True),
    sa.Column('escalate_channel_ids', sa.JSON(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['line.id'], ),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('alert_episode',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('opened_ms', sa.BigInteger(), nullable=False),
    sa.Column('resolved_ms', sa.BigInteger(), nullable=True),
    sa.Column('escalated_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['rule_id'], ['alert_rule.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_episode', schema=None) as batch_op:
        batch_op.create_index('ix_alert_episode_rule_open', ['rule_id', 'resolved_ms'], unique=False)

    op.create_table('alert_preference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['alert_channel.id'], ),
    sa.ForeignKeyConstraint(['rule_id'], ['alert_rule.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'rule_id', 'channel_id', name='uq_alert_preference')
    )
    with op.batch_alter_table('alert_preference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_preference_user_id'), ['user_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('alert_preference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_preference_user_id'))

    op.drop_table('alert_preference')
    with op.batch_alter_table('alert_episode', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_episode_rule_open')

    op.drop_table('alert_episode')
    op.drop_table('alert_rule')
    with op.batch_alter_table('alert_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_attempt_message_id'))

    op.drop_table('alert_attempt')
    with op.batch_alter_table('alert_message', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_message_due')
        batch_op.drop_index(batch_op.f('ix_alert_message_channel_id'))

    op.drop_table('alert_message')
    op.drop_table('alert_contact')
    op.drop_table('alert_lease')
    op.drop_table('alert_channel')

