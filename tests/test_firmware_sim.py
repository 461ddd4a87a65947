"""Device simulator: wire encoders, acceleration realism, population and scenarios (in memory)."""

from __future__ import annotations

import csv
import json
import re
import struct
import time

import numpy as np
import pytest

from firmware_sim import wire
from firmware_sim.__main__ import main as cli_main
from firmware_sim.accel import AccelBank, Activity
from firmware_sim.care_home import REGISTRY_COLUMNS, build_care_home
from firmware_sim.runner import Simulator

T0 = 1_750_000_000.0
WATCH_TIME = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}$")


# ---------------------------------------------------------------- identifiers and encoders


def test_luhn_and_imei():
    assert wire.luhn_valid("490154203237518")  # a published example IMEI
    assert not wire.luhn_valid("490154203237517")
    imei = wire.make_imei("86506712", 345678)
    assert len(imei) == 15 and imei.isdigit() and wire.luhn_valid(imei)


def test_accel_binary_layout_regular():
    counts = wire.to_counts(np.array([[0.0, 0.0, 1.0], [0.5, -0.25, 1.5]]))
    payload = wire.encode_accel(T0, 50, counts)
    magic, version, flags, t0, rate, n, scale = struct.unpack_from("<2sBBdHHH", payload)
    assert (magic, version, flags, t0, rate, n, scale) == (b"CA", 1, 0, T0, 50, 2, 1024)
    assert len(payload) == struct.calcsize("<2sBBdHHH") + n * 6
    xyz = struct.unpack_from("<6h", payload, struct.calcsize("<2sBBdHHH"))
    assert xyz == (0, 0, 1024, 512, -256, 1536)
    batch = wire.decode_accel(payload)
    assert np.allclose(batch.times, [T0, T0 + 0.02]) and np.allclose(batch.xyz[1], [0.5, -0.25, 1.5])


def test_accel_binary_layout_with_offsets():
    counts = wire.to_counts(np.ones((3, 3)))
    payload = wire.encode_accel(T0, 25, counts, np.array([0, 41, 79], dtype="<u2"))
    head = struct.calcsize("<2sBBdHHH")
    assert payload[3] & 0x01 and len(payload) == head + 3 * 2 + 3 * 6
    assert struct.unpack_from("<3H", payload, head) == (0, 41, 79)
    batch = wire.decode_accel(payload)
    assert np.allclose(batch.times - T0, [0, 0.041, 0.079])
    with pytest.raises(ValueError):
        wire.decode_accel(payload[:-1])


def test_to_counts_saturates():
    assert wire.to_counts(np.array([40.0, -40.0])).tolist() == [32767, -32768]


def test_z2m_messages():
    topic, body = wire.z2m_state("site1/room101/smoke", {"smoke": True, "battery": 96})
    assert topic == "zigbee2mqtt/site1/room101/smoke" and json.loads(body) == {"smoke": True, "battery": 96}
    topic, body = wire.z2m_availability("site1/room101/smoke", False)
    assert topic == "zigbee2mqtt/site1/room101/smoke/availability"
    assert json.loads(body) == {"state": "offline"}
    topic, body = wire.z2m_bridge_devices([{"ieee_address": "0x54ef440000000001", "friendly_name": "a/b",
                                            "model": "HS1SA", "vendor": "HEIMAN",
                                            "exposes": ("smoke", "battery")}], "0x00124b0000000001")
    devices = json.loads(body)
    assert topic == "zigbee2mqtt/bridge/devices" and devices[0]["type"] == "Coordinator"
    d = devices[1]
    assert d["definition"]["model"] == "HS1SA" and d["definition"]["vendor"] == "HEIMAN"
    assert [e["property"] for e in d["definition"]["exposes"]] == ["smoke", "battery"]


def test_watch_messages():
    imei = wire.make_imei("86506712", 1)
    topic, body = wire.watch_heartbeat(imei, ts=T0, battery=67, signal=80, satellites=4, steps=999)
    hb = json.loads(body)
    assert topic == f"watch/{imei}/heartbeat"
    assert set(hb) == {"IMEI", "signalGSM", "battery", "satellites", "workingMode", "timeStamps", "step"}
    assert WATCH_TIME.match(hb["timeStamps"])
    topic, body = wire.watch_vitals(imei, [{"time": int(T0), "heartRate": 70}])
    assert topic.endswith("/vitals") and json.loads(body)["num_datas"] == 1
    topic, body = wire.watch_alarm(imei, "FALL DOWN", ts=T0, battery=50, location={"type": "LBS"})
    assert topic == f"watch/{imei}/fall" and json.loads(body)["status"] == "FALL DOWN"
    assert wire.watch_alarm(imei, "SOS", ts=T0, battery=50, location={})[0] == f"watch/{imei}/sos"


def test_ctwing_envelope():
    topic, body = wire.ctwing_data_report(product_id="15602388", device_id="15602388868130050000001",
                                          imei="868130050000001", ts=T0, service_id="smoke_alarm_report",
                                          service_data={"Alarm_Status": 1, "Battery_Level": 90}, up_sn=3)
    msg = json.loads(body)
    assert topic == "ctwing/15602388/15602388868130050000001"
    assert msg["messageType"] == "dataReport" and msg["protocol"] == "lwm2m"
    assert msg["timestamp"] == int(T0 * 1000) and msg["IMEI"] == "868130050000001"
    assert msg["payload"]["serviceData"]["Alarm_Status"] == 1


def test_native_json_messages():
    topic, body = wire.native_telemetry("wb01", ts=T0, seq=5, readings={"heart_rate": 72, "spo2": 97.5})
    assert topic == "carehub/v1/wb01/telemetry"
    assert json.loads(body) == {"v": 1, "ts": T0, "seq": 5, "readings": {"heart_rate": 72, "spo2": 97.5}}
    topic, body = wire.native_event("wb01", ts=T0, seq=6, event="sos", state="momentary")
    assert topic.endswith("/event") and json.loads(body) == {"v": 1, "ts": T0, "seq": 6, "event": "sos",
                                                             "state": "momentary", "detail": {}}
    topic, body = wire.native_status("wb01", ts=T0, online=False, reason="connection_lost")
    assert topic.endswith("/status") and json.loads(body)["status"] == "offline"


# ---------------------------------------------------------------- acceleration realism


def _run(bank: AccelBank, seconds: int, t0: float = T0) -> np.ndarray:
    return np.concatenate([bank.generate(t0 + k) for k in range(seconds)], axis=1).astype(np.float64)


def test_resting_magnitude_is_one_g():
    bank = AccelBank(200, rate_hz=50, seed=3)
    mag = np.linalg.norm(_run(bank, 10), axis=2)
    assert abs(mag.mean() - 1.0) < 0.05
    assert np.all(np.abs(mag.mean(axis=1) - 1.0) < 0.05)
    assert mag.std(axis=1).max() < 0.05


def test_walking_has_step_cadence():
    bank = AccelBank(30, rate_hz=50, seed=4)
    for i in range(30):
        bank.set_activity(i, Activity.WALK, T0, transition_s=0)
    mag = np.linalg.norm(_run(bank, 20), axis=2)
    freqs = np.fft.rfftfreq(mag.shape[1], 1 / 50)
    band = freqs > 0.5
    for i in range(30):
        spectrum = np.abs(np.fft.rfft(mag[i] - mag[i].mean()))
        dominant = freqs[band][spectrum[band].argmax()]
        assert 1.5 <= dominant <= 2.5, (i, dominant)
    assert 0.08 < mag.std(axis=1).mean() < 0.35


def test_fall_has_free_fall_impact_and_stillness():
    bank = AccelBank(40, rate_hz=50, seed=5)
    for i in range(40):
        bank.set_activity(i, Activity.STAND, T0, transition_s=0)
        bank.fall(i, T0 + 3.37)
    acc = _run(bank, 12)
    mag = np.linalg.norm(acc, axis=2)
    impact = int(3.37 * 50)
    for i in range(40):
        assert mag[i, impact - 5:impact + 5].max() > 3.0
        assert 0.25 < mag[i, impact - 30:impact - 2].min() < 0.65  # free-fall dip
        still = mag[i, impact + 150:]
        assert abs(still.mean() - 1.0) < 0.05 and still.std() < 0.03
        before = acc[i, 50:100].mean(axis=0)
        after = acc[i, impact + 150:].mean(axis=0)
        cos = before @ after / np.linalg.norm(before) / np.linalg.norm(after)
        assert cos < 0.6  # lying on another axis


def test_sleep_puts_gravity_on_another_axis_and_rate_option():
    bank = AccelBank(20, rate_hz=25, seed=6)
    for i in range(20):
        bank.set_activity(i, Activity.STAND, T0, transition_s=0)
    stand = _run(bank, 1).mean(axis=1)
    for i in range(20):
        bank.set_activity(i, Activity.SLEEP, T0 + 1, transition_s=2.0)
    acc = _run(bank, 6, T0 + 1)
    assert acc.shape == (20, 150, 3)
    sleep = acc[:, -25:].mean(axis=1)
    assert np.all(np.abs(np.linalg.norm(sleep, axis=1) - 1) < 0.05)
    assert np.all(np.abs(np.sum(stand * sleep, axis=1)) < 0.6)  # arm hanging vs lying: another axis
    with pytest.raises(ValueError):
        AccelBank(1, rate_hz=200)


def test_acceleration_is_deterministic_for_a_seed():
    a, b = AccelBank(5, seed=9), AccelBank(5, seed=9)
    a.fall(0, T0 + 0.5)
    b.fall(0, T0 + 0.5)
    assert np.array_equal(_run(a, 3), _run(b, 3))


def test_vectorised_generation_for_5000_wristbands():
    bank = AccelBank(5000, rate_hz=50, seed=1)
    acts = [Activity.REST, Activity.WALK, Activity.SLEEP, Activity.EAT, Activity.STAND]
    for i in range(0, 5000, 7):
        bank.set_activity(i, acts[i % 5], T0)
    bank.generate(T0)
    cpu, wall = time.process_time(), time.perf_counter()
    for k in range(1, 6):
        times, _ = bank.sample_times(T0 + k)
        counts = wire.to_counts(bank.generate(T0 + k, times))
    cpu, wall = (time.process_time() - cpu) / 5, (time.perf_counter() - wall) / 5
    print(f"\n5000 wristbands x 1 s at 50 Hz: {cpu * 1000:.0f} ms CPU, {wall * 1000:.0f} ms wall per second")
    assert counts.shape == (5000, 50, 3)


# ---------------------------------------------------------------- population


def test_default_care_home():
    home = build_care_home(residents=20, sites=1, seed=1)
    kinds = [d.kind for d in home.devices]
    assert 65 <= len(home.devices) <= 90
    assert kinds.count("wristband") == 20 and kinds.count("sos_button") >= 20
    assert kinds.count("gas_detector") == 1 and kinds.count("smoke_detector") >= 22
    assert len({d.key for d in home.devices}) == len(home.devices)
    for d in home.devices:
        if d.ieee_address:
            assert re.fullmatch(r"0x[0-9a-f]{16}", d.ieee_address) and d.key == f"z2m:{d.z2m_name}"
            assert d.aliases == (f"ieee:{d.ieee_address}",)
        if d.imei:
            assert wire.luhn_valid(d.imei) and len(d.imei) == 15 and d.key == f"imei:{d.imei}"
        if d.native_id:
            assert d.key == f"ch:{d.native_id}"
    assert [d.key for d in build_care_home(seed=1).devices] == [d.key for d in home.devices]
    assert [d.key for d in build_care_home(seed=2).devices] != [d.key for d in home.devices]


def test_registry_csv(tmp_path):
    sim = Simulator(None, residents=6, sites=2, seed=3)
    path = sim.export_registry_csv(tmp_path / "devices.csv")
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == REGISTRY_COLUMNS
    assert len(rows) == len([d for d in sim.population if d.kind != "receiver"])  # receiver: hub config
    assert {r["site"] for r in rows} == {"site1", "site2"}
    kinds = {"wristband", "sos_button", "smoke_detector", "gas_detector", "heat_detector", "receiver"}
    assert {r["kind"] for r in rows} >= kinds - {"receiver"}


# ---------------------------------------------------------------- scenarios (in-memory outbox)


def _sim(**kw) -> Simulator:
    sim = Simulator(None, residents=kw.pop("residents", 6), seed=kw.pop("seed", 2), start_time=T0, **kw)
    sim.start(realtime=False)
    return sim


def _messages(sim: Simulator, suffix: str) -> list[tuple[str, dict, int, bool]]:
    return [(t, json.loads(p), q, r) for t, p, q, r in sim.outbox if t.endswith(suffix)]


def test_startup_announces_bridge_and_availability():
    sim = _sim()
    topics = [t for t, *_ in sim.outbox]
    assert "zigbee2mqtt/bridge/state" in topics and "zigbee2mqtt/bridge/devices" in topics
    devices = json.loads(next(p for t, p, *_ in sim.outbox if t == "zigbee2mqtt/bridge/devices"))
    names = {d["friendly_name"] for d in devices}
    assert {d.z2m_name for d in sim.population if d.z2m_name} <= names
    assert all(r for t, _, _, r in sim.outbox if t.endswith("/availability"))


def test_sos_press_publishes_emergency_then_reset_at_qos1():
    sim = _sim()
    incident = sim.run_scenario("sos_press", at=2)
    sim.advance(3)
    name = sim.device(incident.device_keys[0]).spec.z2m_name
    alarms = [m["action"] for t, m, q, _ in _messages(sim, name) if t == f"zigbee2mqtt/{name}" and q == 1]
    assert alarms == ["emergency", ""]


def test_wristband_and_watch_sos():
    sim = _sim(residents=10)
    sim.run_scenario("sos_press", via="wristband")
    sim.run_scenario("sos_press", via="watch")
    sim.advance(2)
    events = _messages(sim, "/event")
    assert events and events[-1][1]["event"] == "sos" and events[-1][2] == 1
    sos = _messages(sim, "/sos")
    assert any(m.get("status") == "SOS" and WATCH_TIME.match(m["timeStamps"]) for _, m, _, _ in sos)


def test_kitchen_fire_smoke_density_and_temperature_rise():
    sim = _sim()
    incident = sim.run_scenario("kitchen_smoke_fire", at=1, clear_after=200)
    sim.advance(420)
    primary = _messages(sim, "zigbee2mqtt/site1/kitchen/smoke")
    dens = [m["smoke_density_dbm"] for _, m, _, _ in primary]
    first_smoke = next(i for i, (_, m, _, _) in enumerate(primary) if m["smoke"])
    assert dens[first_smoke] >= 0.12 and max(dens[:first_smoke]) < 0.12 and primary[first_smoke][2] == 1
    assert not primary[-1][1]["smoke"]  # cleared
    second = _messages(sim, "zigbee2mqtt/site1/kitchen/smoke2")
    temps = [m["device_temperature"] for _, m, _, _ in second]
    assert max(temps) > 57 and np.max(np.diff(temps)) / 5 * 60 > 8  # rate of rise > 8 °C/min
    assert [(c, q) for _, _, c, q, _, _ in sim.contact_id_log] == [(114, 1), (114, 3)]
    assert incident.t_alarm is not None and abs(incident.t_alarm - (T0 + 1 + 60)) <= 10


def test_gas_leak_passes_thresholds_then_flag():
    sim = _sim()
    sim.run_scenario("gas_leak", clear_after=None)
    sim.advance(200)
    gas = [m for _, m, _, _ in _messages(sim, "zigbee2mqtt/site1/kitchen/gas")]
    density = [m["gas_density"] for m in gas]
    i25 = next(i for i, d in enumerate(density) if d >= 25)
    i50 = next(i for i, d in enumerate(density) if d >= 50)
    iflag = next(i for i, m in enumerate(gas) if m["gas"])
    assert i25 < i50 <= iflag and not any(m["gas"] for m in gas[:i50])


def test_wristband_fall_streams_impact_then_stillness():
    sim = _sim()
    incident = sim.run_scenario("wristband_fall", at=4, device_detects=True)
    sim.advance(15)
    wb = sim.device(incident.device_keys[0])
    topic = f"carehub/v1/{wb.spec.native_id}/accel"
    batches = [wire.decode_accel(p) for t, p, *_ in sim.outbox if t == topic]
    times = np.concatenate([b.times for b in batches])
    mag = np.linalg.norm(np.concatenate([b.xyz for b in batches]), axis=1)
    assert np.all(np.diff(times) > 0)
    peak_t = times[mag.argmax()]
    assert mag.max() > 3.0 and abs(peak_t - incident.t_alarm) < 0.1
    assert mag[times > incident.t_alarm + 3].std() < 0.05
    assert any(m["event"] == "fall" for _, m, _, _ in _messages(sim, "/event"))


def test_battery_dies_then_silent():
    sim = _sim()
    key = next(d.key for d in sim.population if d.model == "HS1SA" and d.room != "lounge")
    name = sim.device(key).spec.z2m_name
    sim.run_scenario("battery_dies", device=key, duration_s=120, report_every_s=20)
    sim.advance(400)
    states = [m for t, m, _, _ in _messages(sim, name) if t == f"zigbee2mqtt/{name}"]
    batteries = [m["battery"] for m in states]
    assert all(x >= y for x, y in zip(batteries, batteries[1:], strict=False)) and batteries[-1] < 20
    assert states[-1]["battery_low"] and not states[0]["battery_low"]
    last_state = max(i for i, (t, *_) in enumerate(sim.outbox) if t == f"zigbee2mqtt/{name}")
    offline = [i for i, (t, p, *_) in enumerate(sim.outbox) if t == f"zigbee2mqtt/{name}/availability"
               and json.loads(p)["state"] == "offline"]
    assert offline and offline[0] > last_state
    assert not sim.device(key).alive


def test_device_silent_wristband_goes_offline_and_back():
    sim = _sim()
    incident = sim.run_scenario("device_silent", restore_after=30)
    wb = sim.device(incident.device_keys[0])
    sim.advance(10)
    accel_topic = f"carehub/v1/{wb.spec.native_id}/accel"
    n_before = sum(t == accel_topic for t, *_ in sim.outbox)
    statuses = [m["status"] for _, m, _, _ in _messages(sim, f"{wb.spec.native_id}/status")]
    assert statuses[-1] == "offline"
    sim.advance(10)
    assert sum(t == accel_topic for t, *_ in sim.outbox) == n_before
    sim.advance(20)
    assert [m["status"] for _, m, _, _ in _messages(sim, f"{wb.spec.native_id}/status")][-1] == "online"


def test_demo_mix_produces_incidents_and_telemetry():
    sim = _sim(residents=20, seed=1)
    sim.run_scenario("demo")
    sim.advance(600)
    assert len(sim.incidents) >= 8
    telemetry = _messages(sim, "/telemetry")
    readings = telemetry[-1][1]["readings"]
    assert set(readings) >= {"heart_rate", "spo2", "battery", "steps"}
    assert 40 < readings["heart_rate"] < 140 and 85 <= readings["spo2"] <= 100
    assert max(m["readings"]["steps"] for _, m, _, _ in telemetry) > 0
    assert sim.stats["accel_batches"] >= 20 * 550


def test_cli_list_and_export(tmp_path, capsys):
    assert cli_main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "sos_press" in out and "demo" in out
    assert cli_main(["--export-csv", str(tmp_path / "d.csv"), "--residents", "4"]) == 0
    assert (tmp_path / "d.csv").read_text().startswith(",".join(REGISTRY_COLUMNS))


def test_contact_id_through_serial_receiver(pty_pair):
    import serial

    hub = serial.Serial(pty_pair.hub_end, 9600, timeout=0.1)
    records: list[bytes] = []
    sim = Simulator(None, residents=4, seed=5, start_time=T0, serial=pty_pair.device_end)
    try:
        sim.start(realtime=False)
        sim.run_scenario("sos_press", via="pullcord", at=1)
        sim.advance(2)
        buf, deadline = b"", time.monotonic() + 10
        while time.monotonic() < deadline and not any(b"1201" in r for r in records):
            buf += hub.read(64)
            while b"\x14" in buf:
                record, buf = buf.split(b"\x14", 1)
                records.append(record)
                hub.write(b"\x06")  # ACK, as the automation software must
    finally:
        sim.stop()
        hub.close()
    assert any(r.strip().endswith(b"@") for r in records)  # the receiver heartbeat
    event = next(r for r in records if b"1201" in r)
    assert b"E101" in event and event.endswith(b"002")
