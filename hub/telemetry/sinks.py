"""Where batches of line protocol go: InfluxDB 1.x `/write` or the v2 write API (2.x, 3.x).

A sink sends one batch synchronously and says what went wrong by the exception it raises:
`RetryableError` (server down, 5xx, 429, auth or missing database: keep the data and retry later)
or `RejectedError` (400/413/422: the data itself is refused; retrying would loop forever).
"""

from __future__ import annotations

import gzip
import logging
from typing import Protocol

import httpx

log = logging.getLogger(__name__)

# Statuses that blame the data: a bad line (400, also InfluxDB's "partial write"), too large, unprocessable.
_REJECTED_STATUSES = frozenset({400, 413, 422})


class SinkError(Exception):
    """A batch was not written."""


class RetryableError(SinkError):
    """The server could not take the batch now; keep it and try again."""


class RejectedError(SinkError):
    """The server refused the data itself; retrying the same lines would fail again."""


class Sink(Protocol):
    """Sends one batch of line protocol lines synchronously."""

    name: str

    def send(self, lines: list[str]) -> None:
        """Write the lines or raise RetryableError / RejectedError."""

    def close(self) -> None:
        """Release connections."""


def _classify(status: int, text: str) -> SinkError:
    message = f"HTTP {status}: {text[:300]}"
    if status in _REJECTED_STATUSES:
        return RejectedError(message)
    return RetryableError(message)


class InfluxV1Sink:
    """POSTs gzip'd line protocol to InfluxDB 1.x `/write?db=..&precision=ms` with httpx."""

    name = "influxdb-v1"

    def __init__(self, url: str, *, database: str, username: str = "", password: str = "",
                 precision: str = "ms", timeout: float = 10.0, gzip_level: int = 1) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.precision = precision
        self.gzip_level = gzip_level
        auth = (username, password) if username else None
        self._client = httpx.Client(base_url=self.url, auth=auth, timeout=timeout)
        self._database_checked = False

    def send(self, lines: list[str]) -> None:
        """Write one batch; create the database once if the server says it is missing."""
        body = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=self.gzip_level)
        try:
            response = self._post(body)
            if response.status_code == 404 and not self._database_checked:
                self._create_database()
                response = self._post(body)
        except httpx.HTTPError as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise _classify(response.status_code, response.text)

    def _post(self, body: bytes) -> httpx.Response:
        return self._client.post(
            "/write", params={"db": self.database, "precision": self.precision}, content=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
        )

    def _create_database(self) -> None:
        # CREATE DATABASE is idempotent in 1.x; without admin rights it fails and the 404 stays retryable.
        self._database_checked = True
        response = self._client.post("/query", params={"q": f'CREATE DATABASE "{self.database}"'})
        if response.status_code >= 300:
            log.warning("could not create InfluxDB database %s: %s", self.database, response.text[:200])

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


class InfluxV2Sink:
    """Posts batches through influxdb-client's synchronous WriteApi with gzip (InfluxDB 2.x/3.x)."""

    name = "influxdb-v2"

    def __init__(self, url: str, *, token: str, org: str, bucket: str, timeout: float = 10.0) -> None:
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.bucket = bucket
        self.org = org
        # retries=False: our writer owns retry, backoff and the spill; the client must not retry on its own.
        self._client = InfluxDBClient(url=url, token=token, org=org, enable_gzip=True,
                                      timeout=int(timeout * 1000), retries=False)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._precision = WritePrecision.MS

    def send(self, lines: list[str]) -> None:
        """Write one batch as a single request."""
        from influxdb_client.rest import ApiException

        try:
            self._write_api.write(bucket=self.bucket, org=self.org, record="\n".join(lines),
                                  write_precision=self._precision)
        except ApiException as exc:
            raise _classify(int(exc.status or 0), str(exc.body or exc.reason)) from exc
        except Exception as exc:  # urllib3 connection errors and timeouts: the server is not there
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """Close the client."""
        self._client.close()
