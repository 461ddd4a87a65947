"""Session-scoped real servers shared by the whole suite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests import servers


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    """A real Mosquitto broker on a free port."""
    server = servers.start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxdb1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    """A real InfluxDB 1.x server on a free port."""
    server = servers.start_influxdb1(tmp_path_factory.mktemp("influxdb1"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def victoriametrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    """A real VictoriaMetrics server (InfluxDB v2 write API) on a free port."""
    server = servers.start_victoriametrics(tmp_path_factory.mktemp("victoriametrics"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    """A real PostgreSQL cluster on a free port; `extra['url']` is its SQLAlchemy URL."""
    server = servers.start_postgres()
    yield server
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def pg_url(postgres) -> str:
    """A fresh database in the session's PostgreSQL cluster."""
    import uuid

    import sqlalchemy as sa

    name = f"carehub_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres.extra["url"], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return postgres.extra["url"].rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def pty_pair(tmp_path) -> Iterator[servers.PtyPair]:
    """A linked pair of real pseudo-terminals from socat."""
    pair = servers.start_pty_pair(tmp_path / "pty")
    yield pair
    pair.stop()
