"""The telemetry schema and line-protocol encoding: escaping, NaN/inf, and what real InfluxDB makes of it."""

from __future__ import annotations

import math

import httpx
import numpy as np
import pytest

from device_drivers.model import (
    AccelBatch,
    Availability,
    DeviceEvent,
    DeviceStatus,
    EventKind,
    EventState,
    Reading,
)
from hub.telemetry import line_protocol as lp
from hub.telemetry.local_store import parse_line, rows_from_line
from hub.telemetry.sinks import InfluxV1Sink

TS = 1_700_000_000.123


def reading(metric: str = "heart_rate", value: float = 72.0, device: str = "wb-1", ts: float = TS) -> Reading:
    return Reading(device_key=device, metric=metric, value=value, unit="", ts=ts, source="native")


def test_reading_line_has_measurement_sorted_tags_float_field_and_ms_timestamp():
    line = lp.encode_reading(reading(), {"site": "s1", "room": "101", "resident": "r7", "kind": "wristband"})
    assert line == ("vitals,device=wb-1,kind=wristband,resident=r7,room=101,site=s1,source=native "
                    "heart_rate=72.0 1700000000123")


@pytest.mark.parametrize(
    ("metric", "measurement"),
    [("spo2", "vitals"), ("smoke_density", "environment"), ("co_ppm", "environment"),
     ("battery", "device"), ("linkquality", "device"), ("steps", "activity"), ("latitude", "location"),
     ("something_new", "sensor")],
)
def test_metric_picks_its_domain_measurement(metric, measurement):
    assert lp.encode_reading(reading(metric)).startswith(f"{measurement},")


def test_escaping_of_keys_and_values():
    line = lp.encode_reading(
        reading(metric="odd metric,=x", device='a b,c=d"e\nf\\'),
        {"room": "r=1, x", "": "no key", "empty": ""},
    )
    assert line == (r'sensor,device=a\ b\,c\=d"e\ f,room=r\=1\,\ x,source=native odd\ metric\,\=x=72.0 '
                    "1700000000123")
    measurement, tags, fields, ts = parse_line(line)
    assert measurement == "sensor"
    assert tags == {"device": 'a b,c=d"e f', "room": "r=1, x", "source": "native"}
    assert fields == {"odd metric,=x": 72.0}
    assert ts == 1700000000123
    assert lp.escape_measurement("a b,c") == r"a\ b\,c"
    assert lp.escape_string_field('say "hi"\\\n') == r'"say \"hi\"\\ "'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_are_refused(bad):
    assert lp.encode_reading(reading(value=bad)) is None
    assert lp.format_float(bad) is None


def test_large_and_small_floats_use_python_repr():
    assert lp.encode_reading(reading(value=1e20)).split(" ")[1] == "heart_rate=1e+20"
    assert lp.encode_reading(reading(value=True)).split(" ")[1] == "heart_rate=1.0"


def test_event_status_and_accel_lines():
    event = DeviceEvent("sos-1", EventKind.SOS, EventState.ACTIVE, TS, "zigbee2mqtt")
    assert lp.encode_event(event, {"room": "101"}) == (
        "device_events,device=sos-1,room=101,source=zigbee2mqtt,kind=sos,state=active value=1.0 1700000000123"
    )
    status = DeviceStatus("sos-1", Availability.OFFLINE, TS, "zigbee2mqtt", reason="supervision timeout")
    assert lp.encode_status(status) == (
        r"device_status,device=sos-1,source=zigbee2mqtt,availability=offline,reason=supervision\ timeout "
        "online=0.0 1700000000123"
    )
    xyz = np.array([[0, 0, 1], [0, 3, 4]], np.float32)
    batch = AccelBatch("wb-1", np.array([TS - 0.02, TS]), xyz, "watch")
    line = lp.encode_accel_summary(batch)
    assert line is not None
    _, _, fields, _ = parse_line(line)
    assert fields == {"accel_samples": 2.0, "accel_rms_g": pytest.approx(math.sqrt(13)), "accel_peak_g": 5.0}


def test_local_rows_from_event_and_string_fields():
    cleared = DeviceEvent("smk", EventKind.SMOKE, EventState.CLEARED, TS, "native")
    assert rows_from_line(lp.encode_event(cleared)) == [("smk", "event_smoke", 1700000000123, 0.0)]
    assert rows_from_line('m,device=d note="a, b=c",v=2i 5') == [("d", "v", 5, 2.0)]
    with pytest.raises(ValueError):
        parse_line("just-a-measurement")


def test_real_influxdb1_accepts_escaped_lines_and_returns_the_original_values(influxdb1):
    sink = InfluxV1Sink(influxdb1.url, database="lp_escapes")
    tricky = 'flat 3, bed=A "west"'
    lines = [
        lp.encode_reading(reading(device=tricky, value=1e20), {"room": "r=1, x"}),
        lp.encode_reading(reading(metric="weird field=1,2", device="plain", value=-0.5)),
        lp.encode_status(DeviceStatus("plain", Availability.ONLINE, TS, "native", reason="seen, again")),
    ]
    sink.send(lines)
    sink.close()

    def query(q: str) -> list:
        body = httpx.get(f"{influxdb1.url}/query", params={"db": "lp_escapes", "q": q}).json()
        return body["results"][0]["series"]

    series = query('SELECT heart_rate, device, room FROM vitals')
    assert series[0]["values"][0][1:] == [1e20, tricky, "r=1, x"]
    assert query('SELECT "weird field=1,2" FROM sensor')[0]["values"][0][1] == -0.5
    assert query("SELECT online, reason FROM device_status")[0]["values"][0][1:] == [1.0, "seen, again"]
