"""Alembic migrations create the whole schema on SQLite and on a real PostgreSQL, and match the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub import migrate
from hub.db import Base, make_engine, make_session_factory, transaction
from hub.devices import service
from hub.devices.models import DeviceCreate, DeviceKind, SiteCreate

TABLES = {
    "sites", "buildings", "rooms", "residents", "emergency_contacts", "staff", "devices",
    "device_identifiers", "pending_devices", "device_events", "alembic_version",
}


def _check_schema(url: str) -> None:
    engine = make_engine(url)
    try:
        assert TABLES <= set(sa.inspect(engine).get_table_names())
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        factory = make_session_factory(engine)
        with transaction(factory) as db_session:
            site = service.create_site(db_session=db_session, site_in=SiteCreate(name="Sunrise"))
            device_in = DeviceCreate(kind=DeviceKind.SOS_BUTTON, keys=["imei:490154203237518"],
                                     site_id=site.id)
            service.create_device(db_session=db_session, supervision={"default": 60.0}, device_in=device_in)
        with factory() as db_session:
            device = service.get_device_by_key(db_session=db_session, key="imei:490154203237518")
            assert device is not None and device.supervision_s == 60.0 and device.site.name == "Sunrise"
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_sqlite_fresh_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'carehub.db'}"
    migrate.upgrade(url)
    migrate.upgrade(url)  # a second start is a no-op
    _check_schema(url)
    migrate.downgrade(url)
    assert _tables(url) == {"alembic_version"}
    migrate.upgrade(url)
    assert TABLES <= _tables(url)


def test_upgrade_postgresql(pg_url: str) -> None:
    migrate.upgrade(pg_url)
    migrate.upgrade(pg_url)
    _check_schema(pg_url)
    migrate.downgrade(pg_url)
    assert _tables(pg_url) == {"alembic_version"}
    migrate.upgrade(pg_url)
    assert TABLES <= _tables(pg_url)
