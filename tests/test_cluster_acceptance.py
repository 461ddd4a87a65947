"""The cluster at acceptance scale, with real hub processes, PostgreSQL and Mosquitto: three hubs, six sites,
an SOS every 0.2 s for 60 s while two of the hubs are killed with SIGKILL; then a rolling restart of all
three and a broker restart under the same load. Every press is recorded once, each button raises one
alert, each alert one work order, each escalation step is sent once, and the last hub's API and live
feed show it all."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text

from tests import servers
from tests.hub_process import HubProcess, wait_for
from tests.receivers import Inbox, WebhookReceiver
from tests.test_cluster_failover import _balanced, _clustered, _holders, _start_cluster

pytestmark = pytest.mark.slow

SITES = [f"east-{n}" for n in range(1, 7)]
SHARDS = {site: [f"zigbee2mqtt/{site}/#"] for site in SITES}
DEVICES_CSV = "\n".join([
    "site,building,room,resident,kind,vendor,model,profile,ieee_address,z2m_name,imei,cid_account,cid_zone,"
    "native_id,supervision_s,name",
    *(f"{site},B,101,Resident {site},sos_button,TuYa,TS0215A_sos,zigbee2mqtt,0x00124b00{n:08x},{site}/room101/sos,"
      f",,,,3600,SOS {site}" for n, site in enumerate(SITES, 1))]) + "\n"
RATE_HZ, LOAD_S = 5.0, 60.0
WAIT_S = 3.0  # between the escalation's two notifications
REF = re.compile(r"(?:Ref|编号)[:：] ?CH-(\d+)-(\d+)\.(\d+)\.(\d+)")
SOS_ROWS = ("SELECT count(*), count(DISTINCT delivery_key) FROM device_events"
            " WHERE kind = 'sos' AND device_key LIKE 'z2m:east-%'")


class Presses:
    """Publishes an SOS press every 1/RATE_HZ s, round robin over the six sites, until stopped."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"presses-{uuid.uuid4().hex[:8]}", clean_session=False)
        self.acked: set[int] = set()
        self.client.on_publish = lambda _c, _u, mid, _rc, _p: self.acked.add(mid)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.sent: list[mqtt.MQTTMessageInfo] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start pressing."""
        self._thread.start()

    def _run(self) -> None:
        seq, next_at = 0, time.monotonic()
        while not self._stop.is_set():
            site = SITES[seq % len(SITES)]
            # QoS 1 and a session kept by the broker: a press made while the broker restarts is sent after it.
            self.sent.append(self.client.publish(f"zigbee2mqtt/{site}/room101/sos",
                                                 json.dumps({"action": "emergency", "linkquality": seq}), qos=1))
            seq += 1
            next_at += 1.0 / RATE_HZ
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> int:
        """Stop pressing, wait until the broker has every press, and return how many were made."""
        self._stop.set()
        self._thread.join(10)
        # Presses made while the broker was away are kept by paho and sent once it is back.
        wait_for(lambda: {info.mid for info in self.sent} <= self.acked, 30, "every press acknowledged")
        self.client.loop_stop()
        self.client.disconnect()
        return len(self.sent)


def _setup_escalation(hub: HubProcess, webhook: WebhookReceiver) -> None:
    api = hub.api
    sites = {s["name"]: s["id"] for s in api.get("/api/sites").json()}
    now = time.time()
    for site in SITES:
        operator = api.post("/api/staff", json={"name": f"Operator {site}", "role": "operator",
                                                "site_id": sites[site], "apprise_urls": [webhook.url(f"op-{site}")]})
        assert operator.status_code == 201, operator.text
        api.post("/api/staff", json={"name": f"Supervisor {site}", "role": "supervisor", "site_id": sites[site],
                                     "apprise_urls": [webhook.url(f"sup-{site}")]}).raise_for_status()
        shift = api.post("/api/duty/shifts", json={"staff_id": operator.json()["id"], "site_id": sites[site],
                                                   "role": "operator", "starts_at": now - 60, "ends_at": now + 3600})
        assert shift.status_code == 201, shift.text
        policy = api.put("/api/escalation/policies", json={
            "name": f"acceptance {site}", "site_id": sites[site], "alert_type": "sos",
            "steps": [{"action": "notify_on_duty"}, {"action": "wait", "seconds": WAIT_S},
                      {"action": "notify_supervisor"}]})
        assert policy.status_code == 200, policy.text


def _watch(hub: HubProcess, seen: set[int], opened: threading.Event, stop: threading.Event) -> None:
    """Collect the ids of alerts the hub's live feed shows (its snapshot and every change after)."""
    try:
        _read_feed(hub, seen, opened, stop)
    except httpx.HTTPError:
        if not stop.is_set():
            raise


def _read_feed(hub: HubProcess, seen: set[int], opened: threading.Event, stop: threading.Event) -> None:
    with httpx.stream("GET", f"{hub.url}/api/alerts/stream", headers={"X-API-Key": hub._admin_key},
                      timeout=httpx.Timeout(10, read=None)) as response:
        opened.set()
        event = ""
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data = json.loads(line.removeprefix("data:"))
                alerts = data["alerts"] if event == "snapshot" else [data["alert"]]
                seen.update(a["id"] for a in alerts if (a.get("device_key") or "").startswith("z2m:east-"))


def _held_by(hub: HubProcess, hub_id: str) -> list[str]:
    return [shard for shard, holder in _holders(hub).items() if holder == hub_id]


def test_two_hubs_killed_under_load_lose_no_alarm_and_repeat_no_step(mosquitto, pg_url, tmp_path):
    box = Inbox()
    webhook = WebhookReceiver(box)
    hubs = _start_cluster(mosquitto, pg_url, tmp_path, 3, shards=SHARDS, devices=DEVICES_CSV)
    engine = create_engine(pg_url)

    def one(sql: str):
        with engine.connect() as conn:
            return conn.execute(text(sql)).one()

    stop_watch, opened, seen = threading.Event(), threading.Event(), set()
    watcher: threading.Thread | None = None
    try:
        _setup_escalation(hubs[0], webhook)
        wait_for(lambda: _balanced(hubs[0]), 30, "seven shards held by their owners among three hubs")
        # The hub that survives is the one holding least; the other two are killed in turn.
        held = {h.env["CAREHUB_HUB_ID"]: len(_held_by(hubs[0], h.env["CAREHUB_HUB_ID"])) for h in hubs}
        survivor = min(hubs, key=lambda h: held[h.env["CAREHUB_HUB_ID"]])
        victims = [h for h in hubs if h is not survivor]
        watcher = threading.Thread(target=_watch, args=(survivor, seen, opened, stop_watch), daemon=True)
        watcher.start()
        assert opened.wait(10), "the survivor's live feed did not open"
        presses = Presses(mosquitto.port)
        started = time.monotonic()
        presses.start()
        takeovers = []
        for n, victim in enumerate(victims, 1):
            time.sleep(max(0.0, started + n * LOAD_S / 3 - time.monotonic()))
            lost = _held_by(survivor, victim.env["CAREHUB_HUB_ID"])
            assert lost, f"{victim.env['CAREHUB_HUB_ID']} held nothing to take over"
            victim.kill()
            killed = time.monotonic()
            live = {h.env["CAREHUB_HUB_ID"] for h in hubs if h.proc.poll() is None}
            wait_for(lambda: all(_holders(survivor).get(s) in live for s in lost), 20,  # noqa: B023
                     f"the shards of {victim.env['CAREHUB_HUB_ID']} taken over")
            takeovers.append((victim.env["CAREHUB_HUB_ID"], lost, time.monotonic() - killed))
        time.sleep(max(0.0, started + LOAD_S - time.monotonic()))
        total = presses.stop()
        wait_for(lambda: one(SOS_ROWS)[0] >= total, 30, f"all {total} presses recorded")
        # Two notifications per alert; the slowest waits for a scheduler takeover and the 3 s step.
        wait_for(lambda: len(box.snapshot()) >= 2 * len(SITES), 30, "every escalation step sent")
        time.sleep(2.0)  # late duplicates, if any, arrive now
        rows, distinct = one(SOS_ROWS)
        alerts = engine.connect().execute(text(
            "SELECT id FROM alerts WHERE type = 'sos' AND device_key LIKE 'z2m:east-%'")).scalars().all()
        orders = one("SELECT count(*), count(DISTINCT alert_id) FROM work_orders WHERE alert_id IS NOT NULL")
        sent = Counter((int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)))
                       for m in (REF.search(r.body) for r in box.snapshot()) if m)
        api_alerts = {a["id"] for a in survivor.api.get("/api/alerts").json()
                      if (a["device_key"] or "").startswith("z2m:east-")}
        for hub_id, lost, seconds in takeovers:
            print(f"\nkilled {hub_id} holding {lost}: taken over in {seconds:.1f} s")
        print(f"{total} presses at {RATE_HZ:.0f}/s: {rows} recorded, {distinct} distinct; {len(alerts)} alerts, "
              f"{orders[0]} work orders; {sum(sent.values())} notifications for {len(sent)} steps")
        assert (rows, distinct) == (total, total), "a press was lost or recorded twice"
        assert len(alerts) == len(SITES), "one alert per button while it stays open"
        assert tuple(orders) == (len(SITES), len(SITES)), "one work order per alert"
        assert set(sent.values()) == {1}, f"a step sent twice: {sent}"
        assert {(a, step) for a, _run, _rep, step in sent} == {(a, s) for a in alerts for s in (0, 2)}, \
            "an escalation step skipped"
        assert api_alerts == set(alerts), "the surviving hub's API does not show every alert"
        wait_for(lambda: seen >= set(alerts), 5, "every alert on the surviving hub's live feed")
        assert all(seconds < 15.0 for *_, seconds in takeovers)
    finally:
        stop_watch.set()
        engine.dispose()
        webhook.stop()
        for hub in hubs:
            hub.stop()
        if watcher is not None:
            watcher.join(10)  # its feed closed with the hub: nothing of it runs past the test


def test_a_rolling_restart_and_a_broker_restart_lose_and_duplicate_nothing(pg_url, tmp_path):
    broker = servers.start_mosquitto(tmp_path / "broker")
    hubs = _start_cluster(broker, pg_url, tmp_path, 3, shards=SHARDS, devices=DEVICES_CSV)
    engine = create_engine(pg_url)

    def recorded():
        with engine.connect() as conn:
            return tuple(conn.execute(text(SOS_ROWS)).one())

    try:
        wait_for(lambda: _balanced(hubs[0]), 30, "seven shards held by their owners among three hubs")
        presses = Presses(broker.port)
        presses.start()
        steps = []
        for hub in hubs:  # as an upgrade does it: one hub at a time, the next once the cluster settled
            began = time.monotonic()
            hub.stop()
            assert hub.proc.returncode == 0, "SIGTERM did not stop the hub cleanly (shards handed over, state saved)"
            hub.start(ready=_clustered)
            wait_for(lambda: _balanced(hubs[0] if hub is not hubs[0] else hubs[1]), 30,  # noqa: B023
                     "the cluster settled again")
            steps.append((hub.env["CAREHUB_HUB_ID"], time.monotonic() - began))
        began = time.monotonic()
        broker.restart()  # under the same load: the broker keeps the sessions and what it queued for them
        wait_for(lambda: all(h.api.get("/healthz").json()["mqtt_connected"] for h in hubs), 40,
                 "every hub reconnected to the broker")
        steps.append(("broker", time.monotonic() - began))
        time.sleep(3.0)
        total = presses.stop()

        try:
            wait_for(lambda: recorded()[0] >= total, 30, f"all {total} presses recorded")
        finally:
            print(f"\nrecorded {recorded()} of {total}")
        time.sleep(2.0)
        for name, seconds in steps:
            print(f"\nrestarted {name}: settled in {seconds:.1f} s")
        print(f"{total} presses during the restarts: {recorded()} (rows, distinct)")
        assert recorded() == (total, total)
        with engine.connect() as conn:
            alerts = conn.execute(text("SELECT count(*) FROM alerts WHERE device_key LIKE 'z2m:east-%'")).scalar()
        assert alerts == len(SITES)
    finally:
        engine.dispose()
        for hub in hubs:
            hub.stop()
        broker.stop()
