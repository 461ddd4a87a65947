"""The real servers the suite relies on start and answer."""

import subprocess

import httpx


def test_mosquitto_round_trip(mosquitto):
    sub = subprocess.Popen(
        ["mosquitto_sub", "-p", str(mosquitto.port), "-t", "smoke/test", "-C", "1", "-W", "10"],
        stdout=subprocess.PIPE, text=True,
    )
    import time
    time.sleep(0.3)
    subprocess.run(["mosquitto_pub", "-p", str(mosquitto.port), "-t", "smoke/test", "-m", "hello"], check=True)
    out, _ = sub.communicate(timeout=15)
    assert out.strip() == "hello"


def test_mosquitto_keeps_what_it_queued_for_an_offline_session_across_a_restart(tmp_path):
    from tests import servers

    broker = servers.start_mosquitto(tmp_path / "broker")
    sub = ["mosquitto_sub", "-p", str(broker.port), "-i", "kept-session", "-c", "-q", "1", "-t", "kept/#"]
    try:
        subprocess.run([*sub, "-W", "1"], capture_output=True)  # creates the persistent session, then leaves
        for n in range(3):
            subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", "kept/x", "-m", str(n)],
                           check=True)
        broker.restart()  # it must be able to write its persistence file (run as our user, not `mosquitto`)
        out = subprocess.run([*sub, "-C", "3", "-W", "10"], capture_output=True, text=True).stdout
        assert out.split() == ["0", "1", "2"]
    finally:
        broker.stop()


def test_influxdb1_write_query(influxdb1):
    httpx.post(f"{influxdb1.url}/query", params={"q": "CREATE DATABASE smoke"}).raise_for_status()
    r = httpx.post(f"{influxdb1.url}/write", params={"db": "smoke"}, content=b"m,d=a v=1i 1000000000")
    assert r.status_code == 204
    rows = httpx.get(f"{influxdb1.url}/query", params={"db": "smoke", "q": "SELECT count(v) FROM m"}).json()
    assert rows["results"][0]["series"][0]["values"][0][1] == 1


def test_victoriametrics_v2_write(victoriametrics):
    r = httpx.post(f"{victoriametrics.url}/api/v2/write", params={"org": "o", "bucket": "b"},
                   content=b"m,d=a v=2 1700000000000000000")
    assert r.status_code == 204


def test_postgres_connects(postgres):
    import sqlalchemy as sa
    engine = sa.create_engine(postgres.extra["url"])
    with engine.connect() as conn:
        assert conn.execute(sa.text("select 1")).scalar() == 1


def test_pty_pair_passes_bytes(pty_pair):
    import serial
    with serial.Serial(pty_pair.hub_end, timeout=2) as hub, serial.Serial(pty_pair.device_end, timeout=2) as dev:
        dev.write(b"abc\x14")
        assert hub.read(4) == b"abc\x14"
