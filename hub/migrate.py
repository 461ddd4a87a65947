"""Bring a relational store to the newest schema with Alembic, from code (no alembic.ini on PATH needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from hub.db import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """Return an Alembic config pointing at CareHub's migrations (and at `url` when given)."""
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.attributes["url"] = url  # not set_main_option: '%' in passwords would break interpolation
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Run `alembic upgrade head` (or to `revision`) against the database at `url`."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def downgrade(url: str, revision: str = "base") -> None:
    """Run `alembic downgrade` to `revision` (default: drop everything) against the database at `url`."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def open_store():
    """Return a session factory for the configured store, after upgrading its schema to head."""
    from hub.config import get_settings
    from hub.db import make_session_factory

    settings = get_settings()
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    return make_session_factory(make_engine(settings.sqlalchemy_url))
