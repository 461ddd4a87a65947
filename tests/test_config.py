"""Settings: the TOML file, then CAREHUB_* variables on top."""

from pathlib import Path

from hub.config import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / "carehub.example.toml"


def test_example_toml_is_read(monkeypatch):
    monkeypatch.setenv("CAREHUB_CONFIG", str(EXAMPLE))
    settings = Settings()
    assert settings.mqtt_host_port == ("127.0.0.1", 1883)
    assert settings.influx_api == "v1" and settings.serial_ports == ["/dev/ttyUSB0"]
    assert settings.supervision["wristband"] == 900
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://")


def test_environment_overrides_the_file(monkeypatch):
    monkeypatch.setenv("CAREHUB_CONFIG", str(EXAMPLE))
    monkeypatch.setenv("CAREHUB_MQTT_URL", "mqtt://broker.example:2883")
    monkeypatch.setenv("CAREHUB_HTTP_PORT", "9000")
    monkeypatch.setenv("CAREHUB_SERIAL_PORTS", '["/dev/pts/7"]')
    settings = Settings()
    assert settings.mqtt_host_port == ("broker.example", 2883)
    assert settings.http_port == 9000 and settings.serial_ports == ["/dev/pts/7"]


def test_defaults_without_a_file_use_sqlite_in_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CAREHUB_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("CAREHUB_DATA_DIR", str(tmp_path / "data"))
    settings = Settings()
    assert settings.sqlalchemy_url == f"sqlite:///{(tmp_path / 'data' / 'carehub.db').resolve()}"
    assert settings.influx_url == ""
