"""The hub's side of unmapped fields and undecoded topics: counted, bounded, shown on the device, never stored."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, Counter

from device_drivers.model import Reading, UnmappedFields
from hub import metrics, migrate
from hub.db import make_engine, make_session_factory, transaction
from hub.devices import service
from hub.devices.directory import UNMAPPED_PER_PENDING, DeviceDirectory
from hub.devices.models import DeviceCreate, DeviceKind
from hub.health.state import DeviceHealth
from hub.ingest.lanes import Delivery, TelemetryLane
from hub.ingest.mqtt_client import CatchAllIngest, TopicCoverage
from hub.ingest.processor import Processor
from hub.ingest.router import UNDECODED_ROOTS, IngestRouter

TS = 1_750_077_045.0


class Telemetry:
    """Records what the processor hands to the telemetry writer."""

    def __init__(self) -> None:
        self.readings: list = []
        self.other: list = []

    def enqueue_reading(self, message, tags) -> None:
        self.readings.append(message)

    def enqueue_event(self, message, tags) -> None:
        self.other.append(message)

    def enqueue_status(self, message, tags) -> None:
        self.other.append(message)


@pytest.fixture
def factory(tmp_path):
    url = f"sqlite:///{tmp_path / 'carehub.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def _processor(factory) -> tuple[Processor, Telemetry, list]:
    directory = DeviceDirectory(factory)
    directory.refresh()
    telemetry = Telemetry()
    processor = Processor(lane=TelemetryLane(), directory=directory, health=DeviceHealth(time.time),
                          telemetry=telemetry, session_factory=factory)
    seen: list = []
    processor.add_listener(lambda messages, ref: seen.extend(messages))
    return processor, telemetry, seen


def _deliver(processor: Processor, *messages) -> None:
    processor.process(Delivery("mqtt", "watch", "watch/x/up", list(messages), TS, time.monotonic(),
                               payload=b"{}"), recorded=False)


def _unmapped_count(profile: str, field: str) -> float:
    return metrics.UNMAPPED_FIELDS.labels(profile, field)._value.get()


def test_pending_device_shows_unmapped_fields_and_nothing_reaches_telemetry_or_detectors(factory) -> None:
    processor, telemetry, seen = _processor(factory)
    key = "imei:352099001761481"
    before = _unmapped_count("watch", "stressLevel")
    reading = Reading(key, "heart_rate", 66.0, "bpm", TS, "watch")
    _deliver(processor, reading, UnmappedFields(key, ("stressLevel", "sleep"), TS, "watch"))
    _deliver(processor, UnmappedFields(key, ("stressLevel",), TS, "watch"))
    assert telemetry.readings == [reading] and telemetry.other == []
    assert seen == [reading]  # listeners (the detectors) never see UnmappedFields
    processor.directory.flush_pending()
    with factory() as db_session:
        row = service.get_pending(db_session=db_session, device_key=key)
        assert row.unmapped_fields == {"stressLevel": 2, "sleep": 1}
        assert row.message_count == 2  # one per delivery, the UnmappedFields costs no extra count
    assert _unmapped_count("watch", "stressLevel") == before + 2
    assert metrics.CANONICAL.labels("unmapped")._value.get() >= 2


def test_registered_device_shows_unmapped_fields_in_its_live_state(factory) -> None:
    key = "imei:865067123456785"
    with transaction(factory) as db_session:
        device = service.create_device(db_session=db_session, supervision={"default": 60.0},
                                       device_in=DeviceCreate(kind=DeviceKind.WATCH, keys=[key]))
        device_id = device.id
    processor, telemetry, seen = _processor(factory)
    _deliver(processor, UnmappedFields(key, ("calories",), TS, "watch"))
    _deliver(processor, UnmappedFields(key, ("calories", "sleep"), TS, "watch"))
    state = processor.health.state(f"device:{device_id}").as_dict()
    assert state["unmapped_fields"] == {"calories": 2, "sleep": 1}
    assert state["readings"] == {} and state["last_seen"] is None  # counted, not "heard from"
    assert telemetry.readings == [] and seen == []


def test_pending_unmapped_names_are_capped(factory) -> None:
    directory = DeviceDirectory(factory)
    directory.refresh()
    key = "z2m:chatty"
    directory.note_unknown(key, source="zigbee2mqtt", topic="zigbee2mqtt/chatty", payload=b"{}", info=None, ts=TS)
    for i in range(UNMAPPED_PER_PENDING + 30):
        directory.note_unmapped(key, (f"f{i}",))
    directory.flush_pending()
    with factory() as db_session:
        counts = service.get_pending(db_session=db_session, device_key=key).unmapped_fields
    assert len(counts) == UNMAPPED_PER_PENDING + 1 and counts["_other"] == 30


def test_capped_labels_count_the_rest_as_other() -> None:
    counter = Counter("t_capped_total", "test", ["profile", "field"], registry=CollectorRegistry())
    capped = metrics.CappedLabels(counter, 3)
    for name in ("a", "b", "c", "d", "e", "a"):
        capped.child("watch", name).inc()
    capped.child("ctwing", "d").inc()  # the cap is per profile
    values = {(s.labels["profile"], s.labels["field"]): s.value for s in counter.collect()[0].samples
              if s.name == "t_capped_total"}
    assert values == {("watch", "a"): 2, ("watch", "b"): 1, ("watch", "c"): 1, ("watch", "_other"): 2,
                      ("ctwing", "d"): 1}


def _router() -> IngestRouter:
    return IngestRouter(profiles=None, alarm_lane=None, telemetry_lane=None)  # undecoded() needs neither


def test_undecoded_messages_are_summarised_by_bounded_root() -> None:
    router = _router()
    router.undecoded("wearables/1/up", b'{"spo2":97}')
    router.undecoded("wearables/2/up", b"\xff\x00")
    router.undecoded("/leading/slash", b"")
    for i in range(UNDECODED_ROOTS + 5):
        router.undecoded(f"root{i}/x", b"")
    roots = {r["root"]: r for r in router.undecoded_roots()}
    assert roots["wearables"]["count"] == 2 and roots["wearables"]["last_topic"] == "wearables/2/up"
    assert roots["wearables"]["last_payload"] == "\\xff\x00"  # invalid UTF-8 stays readable
    assert "_empty" in roots and len(roots) == UNDECODED_ROOTS + 1 and roots["_other"]["count"] >= 5
    assert router.rejected[("unknown_topic", "mqtt")] == UNDECODED_ROOTS + 8


@pytest.mark.parametrize(("topic", "covered"), [
    ("zigbee2mqtt/kitchen/smoke", True), ("carehub/v1/wb-1/telemetry", True), ("carehub/v1/wb-1/x/y", False),
    ("tele/t1/SENSOR", True), ("tele/t1/INFO1", False), ("$sys/p/d/thing/property/post", True),
    ("$sys/p/d/thing/service/invoke", False), ("wearables/1", False), ("esp/kitchen/state", True),
    ("site/any/thing", True), ("$SYS/broker/uptime", False),
])
def test_topic_coverage_matches_mqtt_filters(topic: str, covered: bool) -> None:
    filters = ["zigbee2mqtt/#", "carehub/+/+/+", "tele/+/SENSOR", "$sys/+/+/thing/property/post",
               "esp/kitchen/state", "+/any/#"]
    assert TopicCoverage(filters).covers(topic) is covered


class _Counting:
    def __init__(self) -> None:
        self.topics: list[str] = []

    def undecoded(self, topic: str, payload: bytes) -> None:
        self.topics.append(topic)


def test_catch_all_counts_only_what_the_hub_does_not_subscribe_to() -> None:
    subscriptions = ["watch/#", "zigbee2mqtt/#"]
    router = _Counting()
    catch_all = CatchAllIngest(host="127.0.0.1", port=1, client_id="t", covered_by=lambda: subscriptions,
                               router=router, ignore=["alerts/outbound/#"])
    for topic in ("watch/1/up", "wearables/1/up", "wearables/1/up", "alerts/outbound/x", "$SYS/x", "esp/a"):
        catch_all._on_publish(topic.encode(), b"{}", 0, 0, False)
    assert router.topics == ["wearables/1/up", "wearables/1/up", "esp/a"]
    subscriptions = [*subscriptions, "esp/a"]  # HA discovery taught the hub a state topic: no longer counted
    catch_all._on_publish(b"esp/a", b"{}", 0, 0, False)
    assert len(router.topics) == 3
