"""Alembic environment: every table of every domain, on SQLite or PostgreSQL.

Add your domain's model module to the imports below, or autogenerate will not see its tables.
"""

from __future__ import annotations

import logging.config

from alembic import context
from sqlalchemy import Connection

import hub.alerts.models  # noqa: F401
import hub.audit.models  # noqa: F401
import hub.auth.models  # noqa: F401
import hub.cluster.models  # noqa: F401
import hub.detect.models  # noqa: F401
import hub.devices.models  # noqa: F401  (registers tables on Base.metadata)
import hub.duty.models  # noqa: F401
import hub.escalation.models  # noqa: F401
import hub.events.models  # noqa: F401
import hub.ledgers.models  # noqa: F401
import hub.notifications.models  # noqa: F401
import hub.workorders.models  # noqa: F401
from hub.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = (config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
           or config.get_main_option("sqlalchemy.url"))
    if not url:
        from hub.config import get_settings

        url = get_settings().sqlalchemy_url
    return url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds tables in later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a connection handed over by hub.migrate, or one made from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


# Only the alembic command line configures logging; the hub's own logging must stay untouched.
if config.config_file_name is not None and config.attributes.get("connection") is None:
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
