"""Vendor spellings of watch and NB-IoT fields map to the canonical model; signal levels get sign and scale right;
whatever a profile does not map is named in one UnmappedFields."""

from __future__ import annotations

import json

import pytest

from device_drivers.model import CANONICAL_UNITS, Reading, UnmappedFields
from device_drivers.profiles.ctwing import CtwingProfile
from device_drivers.profiles.ha_discovery import HaDiscoveryProfile, TasmotaProfile
from device_drivers.profiles.native import NativeProfile
from device_drivers.profiles.nbiot_fields import csq_dbm, signal_dbm
from device_drivers.profiles.onenet import OneNetProfile
from device_drivers.profiles.watch import WatchProfile
from device_drivers.profiles.zigbee2mqtt import Zigbee2MqttProfile

RX = 1_750_077_050.0
IMEI = "865067123456785"


def watch(payload: dict) -> list:
    return WatchProfile().decode(f"watch/{IMEI}/up", json.dumps({"IMEI": IMEI, **payload}).encode(), received_at=RX)


def values(messages: list) -> dict[str, float]:
    return {m.metric: m.value for m in messages if isinstance(m, Reading)}


def unmapped(messages: list) -> tuple[str, ...]:
    found = [m for m in messages if isinstance(m, UnmappedFields)]
    assert len(found) <= 1
    return found[0].fields if found else ()


@pytest.mark.parametrize("name", ["spo2", "SpO2", "SPO2", "bloodOxygen", "blood_oxygen", "oxygen", "BloodOxygen"])
def test_spo2_spellings(name: str) -> None:
    out = watch({name: 97})
    assert values(out) == {"spo2": 97.0} and unmapped(out) == ()


@pytest.mark.parametrize("payload", [
    {"bp": "120/80"}, {"bloodPressure": "120/80"}, {"bp": [120, 80]}, {"sbp": 120, "dbp": 80},
    {"systolic": 120, "diastolic": 80}, {"bloodPressure": {"high": 120, "low": 80}},
    {"bloodPressure": {"systolic": "120", "diastolic": "80"}}, {"highPressure": 120, "lowPressure": 80},
    {"bp": {"sys": 120, "dia": 80}},
])
def test_blood_pressure_forms(payload: dict) -> None:
    out = watch(payload)
    assert values(out) == {"bp_systolic": 120.0, "bp_diastolic": 80.0} and unmapped(out) == ()


def test_blood_pressure_zero_means_not_measured_and_odd_parts_are_reported() -> None:
    out = watch({"bp": "0/0", "bloodPressure": {"high": 121, "low": 79, "mean": 93}})
    assert values(out) == {"bp_systolic": 121.0, "bp_diastolic": 79.0}
    assert unmapped(out) == ("bloodPressure.mean",)


@pytest.mark.parametrize(("payload", "lat", "lon"), [
    ({"lat": 31.2304, "lon": 121.4737}, 31.2304, 121.4737),
    ({"latitude": "31.2304", "lng": "121.4737"}, 31.2304, 121.4737),
    ({"Latitude": "22.5431S", "Longitude": "W114.0579"}, -22.5431, -114.0579),
    ({"location": {"lat": 31.2304, "long": 121.4737}}, 31.2304, 121.4737),
    ({"gps": {"latitude": 31.2304, "longitude": 121.4737}}, 31.2304, 121.4737),
    ({"position": "31.2304,121.4737"}, 31.2304, 121.4737),
])
def test_position_forms(payload: dict, lat: float, lon: float) -> None:
    out = watch(payload)
    assert values(out) == {"latitude": lat, "longitude": lon} and unmapped(out) == ()


def test_fix_source_accuracy_and_lbs_cells() -> None:
    out = watch({"location": {"lat": 31.2, "lon": 121.4, "type": "WIFI", "radius": 40},
                 "lbs": {"MCC": "460", "MNC": "01", "TAC": "0x1A2B", "ECI": 123456789, "speed": 4},
                 "locationType": 2})
    assert values(out) == {"latitude": 31.2, "longitude": 121.4, "location_source": 2.0, "location_accuracy": 40.0,
                           "cell_mcc": 460.0, "cell_mnc": 1.0, "cell_lac": 6699.0, "cell_cid": 123456789.0}
    assert unmapped(out) == ("lbs.speed", "locationType")  # a vendor's number for the fix type: not guessed
    assert {m.unit for m in out if isinstance(m, Reading) and m.metric.startswith("cell_")} == {"id"}


def test_half_a_position_and_unreadable_cell_ids_are_reported_not_rejected() -> None:
    out = watch({"status": "SOS", "lat": 31.2, "cid": "n/a", "lac": ""})
    assert [m.kind for m in out if hasattr(m, "kind")] == ["sos"]
    assert unmapped(out) == ("cid", "lat")


def test_records_report_unknown_fields_by_bare_name_once() -> None:
    out = watch({"num_datas": 2, "data": [{"ts": RX - 60, "hr": 70, "stress": 3}, {"ts": RX, "stress": 4}]})
    assert [m.value for m in out if isinstance(m, Reading)] == [70.0]
    assert unmapped(out) == ("stress",)


@pytest.mark.parametrize(("metric", "sent", "dbm"), [
    ("rsrp", -105, -105.0), ("rsrp", 105, -105.0), ("rsrp", -1050, -105.0), ("rsrp", 1050, -105.0),
    ("rssi", -87, -87.0), ("rssi", 87, -87.0), ("rssi", 870, -87.0),
    ("snr", 12, 12.0), ("snr", -8, -8.0), ("snr", 125, 12.5), ("snr", -35.0, None),
    ("rsrp", 0, None), ("rsrp", 5000, None),
])
def test_signal_sign_and_tenths(metric: str, sent: float, dbm: float | None) -> None:
    assert signal_dbm(metric, float(sent)) == dbm


@pytest.mark.parametrize(("csq", "dbm"), [(0, -113.0), (20, -73.0), (31, -51.0), (99, None), (32, None)])
def test_csq_to_dbm(csq: int, dbm: float | None) -> None:
    assert csq_dbm(float(csq)) == dbm


def test_ctwing_vendor_spellings_cells_and_unmapped_envelope_fields() -> None:
    env = {"messageType": "dataReport", "IMEI": "869975031234563", "tenantId": "1", "upPacketSN": -1,
           "gatewayId": "x", "payload": {"serviceId": "smoke", "serviceType": "x", "extra": 1, "serviceData": {
               "alarm_status": 7, "batteryLevel": 91, "battery_voltage": 3610, "rsrp": "105", "sinr": "-4",
               "CSQ": 99, "PCI": 301, "EARFCN": 2506, "ECL": 1, "cell_id": "0x0A1B2C3", "IMSI": "460",
               "softwareVersion": "1.2"}}}
    out = CtwingProfile().decode("ctwing/x", json.dumps(env).encode(), received_at=RX)
    assert values(out) == {"battery": 91.0, "voltage": 3.61, "rsrp": -105.0, "snr": -4.0, "cell_pci": 301.0,
                           "cell_earfcn": 2506.0, "coverage_level": 1.0, "cell_cid": 10597059.0}
    assert unmapped(out) == ("gatewayId", "payload.extra", "softwareVersion")
    assert all(m.unit == CANONICAL_UNITS[m.metric] for m in out if isinstance(m, Reading))


def test_onenet_envelope_and_param_extras_are_reported() -> None:
    body = {"id": "1", "version": "1.0", "sys": {"ack": 0}, "extra": 2,
            "params": {"RSRP": {"value": 1080, "time": 1}, "weird": {"value": 1, "quality": "good"}}}
    out = OneNetProfile().decode("$sys/p/d/thing/property/post", json.dumps(body).encode(), received_at=RX)
    assert values(out) == {"rsrp": -108.0}
    assert unmapped(out) == ("extra", "weird.quality", "weird")


def test_zigbee2mqtt_native_and_tasmota_report_unknown_keys() -> None:
    z2m = Zigbee2MqttProfile().decode("zigbee2mqtt/kitchen", json.dumps(
        {"smoke": False, "last_seen": 1, "update": {"state": "idle"}, "sensitivity": "high", "x": None}).encode(),
        received_at=RX)
    assert unmapped(z2m) == ("sensitivity",)
    native = NativeProfile().decode("carehub/v1/wb-1/telemetry", json.dumps(
        {"v": 1, "seq": 3, "readings": {"heart_rate": 70, "new_metric": 1}, "fw": "1.0"}).encode(), received_at=RX)
    assert values(native) == {"heart_rate": 70.0, "new_metric": 1.0} and unmapped(native) == ("fw",)
    state = TasmotaProfile().decode("tele/t1/STATE", json.dumps(
        {"Uptime": "1T", "Heap": 20, "POWER": "ON", "Wifi": {"Signal": -61, "RSSI": 78}}).encode(), received_at=RX)
    assert values(state) == {"rssi": -61.0} and unmapped(state) == ("POWER",)


def test_home_assistant_entities_the_hub_cannot_read_are_reported_on_their_device() -> None:
    p = HaDiscoveryProfile()
    cfg = {"device_class": "pressure", "state_topic": "esp/env", "value_template": "{{ value_json.pressure }}",
           "device": {"identifiers": ["esp9"]}}
    out = p.decode("homeassistant/sensor/esp9/pressure/config", json.dumps(cfg).encode(), received_at=RX)
    assert unmapped(out) == ("pressure",) and out[-1].device_key == "ha:esp9"
    cfg = {"state_topic": "esp/relay", "device": {"identifiers": ["esp9"]}}
    out = p.decode("homeassistant/switch/esp9/relay/config", json.dumps(cfg).encode(), received_at=RX)
    assert unmapped(out) == ("switch.relay",)
