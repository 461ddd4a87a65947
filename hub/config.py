"""One Settings object: a TOML file plus CAREHUB_* environment variables."""

from __future__ import annotations

import datetime as dt
import os
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _toml_path() -> Path:
    return Path(os.environ.get("CAREHUB_CONFIG", "carehub.toml"))


class Settings(BaseSettings):
    """Everything configurable about a hub; environment wins over the TOML file."""

    model_config = SettingsConfigDict(env_prefix="CAREHUB_", extra="ignore")

    data_dir: Path = Path("var")
    # Empty MQTT URL means: the demo starts a broker of its own.
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_client_id: str = "carehub-hub"
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_topic_roots: dict[str, str] = Field(
        default_factory=lambda: {
            "native": "carehub",
            "zigbee2mqtt": "zigbee2mqtt",
            "homeassistant": "homeassistant",
            "tasmota": "tele",
            "ctwing": "ctwing",
            "onenet": "$sys",
            "watch": "watch",
        }
    )
    # A second, QoS 0 connection subscribed to `#` counts messages on topics no subscription of the hub
    # covers (carehub_undecoded_messages_total{root}, /api/ingest/undecoded); these filters are not counted.
    mqtt_catch_all: bool = True
    mqtt_catch_all_ignore: list[str] = Field(default_factory=list)
    profile_dirs: list[Path] = Field(default_factory=list)
    # Profile files are polled this often and reloaded when one changed (0: only POST /api/profiles/reload).
    profile_reload_s: float = Field(default=3.0, ge=0.0)

    database_url: str = ""  # empty: SQLite file in data_dir

    influx_url: str = ""  # empty: telemetry kept locally (embedded default)
    influx_api: str = "auto"  # "v1", "v2" or "auto" (v2 when a token is set)
    influx_token: str = ""
    influx_org: str = "carehub"
    influx_bucket: str = "carehub"
    influx_database: str = "carehub"  # InfluxDB 1.x database
    influx_username: str = ""
    influx_password: str = ""
    influx_batch_lines: int = 5000
    influx_flush_interval: float = 1.0
    influx_queue_lines: int = 200_000
    influx_spill_max_bytes: int = 1 << 30
    telemetry_retention_days: float = 7.0  # embedded local store only

    # Several hubs on one PostgreSQL (docs/cluster.md): shards of MQTT topic filters, each held by one hub
    # under a lease. Empty cluster_shards: one shard "main" with every profile's topics (hot standby).
    cluster_enabled: bool = False
    cluster_shards: dict[str, list[str]] = Field(default_factory=dict)
    cluster_lease_ttl_s: float = Field(default=9.0, gt=0)  # a dead holder's shards are taken after this ...
    cluster_renew_s: float = Field(default=2.0, gt=0)  # ... plus at most one renewal interval
    hub_id: str = ""  # this hub's name in the cluster; empty: <host name>-<process id>

    http_host: str = "127.0.0.1"
    http_port: int = 8000

    serial_ports: list[str] = Field(default_factory=list)
    serial_baudrate: int = 9600
    receiver_heartbeat_timeout: float = 90.0
    # SIA DC-09 receiver over TCP (docs/serial.md); port 0: off.
    dc09_port: int = Field(default=0, ge=0, le=65535)
    dc09_host: str = "0.0.0.0"
    dc09_accounts: list[str] = Field(default_factory=list)  # accounts taken; empty: any account
    dc09_aes_key: str = ""  # hex, 32/48/64 digits (AES-128/192/256); set: every frame must be encrypted
    # How far a frame's time may lag behind / run ahead of the hub's clock (DC-09: 40 s / 20 s).
    dc09_time_tolerance_s: tuple[float, float] = (40.0, 20.0)

    # Supervision intervals per device kind, seconds; a device silent past it is offline.
    supervision: dict[str, float] = Field(
        default_factory=lambda: {
            "sos_button": 3600.0,
            "smoke_detector": 3600.0,
            "gas_detector": 3600.0,
            "co_detector": 3600.0,
            "heat_detector": 3600.0,
            "wristband": 900.0,
            "watch": 900.0,
            "fall_radar": 900.0,
            "receiver": 90.0,
            "default": 3600.0,
        }
    )
    battery_low_percent: float = 20.0

    # Token signing secret; empty: one is generated and kept in data_dir/auth_secret.
    auth_secret: str = ""
    access_token_ttl_s: float = 900.0
    refresh_token_ttl_s: float = 7 * 86_400.0
    login_attempts: int = 5  # failed sign-ins allowed per user name and per address ...
    login_window_s: float = 300.0  # ... within this window

    # Alert priority per type (1 life, 2 check, 3 device care); types not listed keep the defaults.
    alert_priorities: dict[str, int] = Field(default_factory=dict)
    arrival_timeout_s: float = 1800.0  # a dispatched responder must confirm arrival within this
    # A fall the hub detects from wrist acceleration is held this long for a cancel press or recovery; 0: no hold.
    fall_cancel_window_s: float = Field(default=30.0, ge=0.0)
    # Seconds a latched device condition (smoke, gas, co, heat, tamper, battery_low, fault, power_loss) holds
    # with no report repeating it before it expires; kinds not listed keep hub.detect.latches defaults.
    latch_expiry_s: dict[str, float] = Field(default_factory=dict)

    # Links in messages point here; empty: http://<http_host>:<http_port>.
    public_url: str = ""
    timezone: str = "Asia/Shanghai"  # times in messages and quiet hours are read in this zone
    escalation_tick_s: float = 0.25  # how often due escalation steps and deliveries are looked for
    notify_max_attempts: int = 6
    notify_backoff_s: float = 5.0  # first retry after this, then x3 each time ...
    notify_max_backoff_s: float = 300.0  # ... up to this
    family_link_ttl_s: float = 3 * 86_400.0

    # Work orders and ledgers (hub.workorders, hub.ledgers); each dict overrides the defaults key by key.
    workorder_rules: dict[str, str] = Field(default_factory=dict)  # alert type -> order type ("" = none)
    # SLA as [accept_s, finish_s] by "type:p1", then "type", then "p1" (e.g. "maintenance:p3").
    workorder_sla: dict[str, list[float]] = Field(default_factory=dict)
    hazard_rules: dict[str, str] = Field(default_factory=dict)  # alert type -> hazard level ("" = none)
    hazard_deadlines_h: dict[str, float] = Field(default_factory=dict)  # level -> hours to rectify
    holidays: list[dt.date] = Field(default_factory=list)  # public holidays the working-day clock skips
    extra_workdays: list[dt.date] = Field(default_factory=list)  # weekend days worked in their place (调休)

    @model_validator(mode="after")
    def _check_cluster(self) -> Settings:
        # Shard names go into MQTT client ids and detector snapshot names (40 characters with a suffix).
        for name, filters in self.cluster_shards.items():
            if not _SHARD_NAME.fullmatch(name) or name == SCHEDULER_SHARD:
                raise ValueError(f"cluster_shards: {name!r} is not a shard name (1-28 of A-Z a-z 0-9 _ . -,"
                                 f" not {SCHEDULER_SHARD!r})")
            if not filters:
                raise ValueError(f"cluster_shards: shard {name!r} has no topic filters")
        if self.cluster_renew_s * 2 > self.cluster_lease_ttl_s:
            raise ValueError("cluster_renew_s must be at most half of cluster_lease_ttl_s")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read init arguments, then the environment, then the TOML file."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, _toml_path()))

    @property
    def sqlalchemy_url(self) -> str:
        """Return the relational store URL, defaulting to SQLite in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'carehub.db').resolve()}"

    @property
    def base_url(self) -> str:
        """Return the URL people reach the hub at (for links in messages)."""
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")

    @property
    def mqtt_host_port(self) -> tuple[str, int]:
        """Return (host, port) parsed from mqtt_url."""
        parsed = urlparse(self.mqtt_url)
        return parsed.hostname or "127.0.0.1", parsed.port or 1883


_SHARD_NAME = re.compile(r"[A-Za-z0-9_.-]{1,28}")
SCHEDULER_SHARD = "scheduler"  # the lease whose holder runs every timer (escalation, notifications, SLA, tasks)


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings."""
    return Settings()
