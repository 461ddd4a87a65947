"""Benchmark: the cluster with real hub processes, one PostgreSQL and one Mosquitto.

    .venv/bin/python bench/cluster.py [--sites 4] [--devices 400] [--messages 60000] [--kills 10] [--keep]

1. Aggregate ingest, one hub against two hubs in the same run: `--devices` smoke detectors spread over
   `--sites` sites, each site its own shard (`zigbee2mqtt/<site>/#`); a publisher process sends
   `--messages` Zigbee2MQTT state messages as fast as it can; rate = messages / (time until the hubs'
   `carehub_ingest_messages_total` counters, summed, reach the count). The ratio two/one is printed.
2. Takeover over `--kills` SIGKILLs with two hubs: each time the holder of one site is killed, an SOS is
   pressed on that site at once, and the bench measures the time until another hub holds the site
   (from `/api/cluster`) and the SOS's publish-to-recorded latency (its `received_at` in PostgreSQL);
   the killed hub is started again before the next kill. Figures are min / median / max.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests.*` is not an installed package
    sys.path.insert(0, str(ROOT))

_COUNTER = re.compile(r'^carehub_ingest_messages_total\{([^}]*)\} (\S+)$', re.M)


def _devices_csv(sites: list[str], devices: int) -> str:
    lines = ["site,building,room,resident,kind,vendor,model,profile,z2m_name,name"]
    lines += [f"{sites[i % len(sites)]},A,{100 + i},,smoke_detector,HEIMAN,HS1SA,zigbee2mqtt,"
              f"{sites[i % len(sites)]}/dev{i},Smoke {i}" for i in range(devices)]
    lines += [f"{site},A,1,Resident {site},sos_button,TuYa,TS0215A_sos,zigbee2mqtt,{site}/sos,SOS {site}"
              for site in sites]
    return "\n".join(lines) + "\n"


def _publish(port: int, sites: list[str], devices: int, count: int, done) -> None:
    """Publish `count` state messages round robin over the devices, as fast as paho sends them."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    topics = [f"zigbee2mqtt/{sites[i % len(sites)]}/dev{i}" for i in range(devices)]
    for i in range(count):
        client.publish(topics[i % devices], b'{"smoke":false,"battery":90,"linkquality":%d}' % (i % 255), qos=0)
    client.loop_stop()
    client.disconnect()
    done.set()


def _ingested(hubs) -> float:
    total = 0.0
    for hub in hubs:
        for labels, value in _COUNTER.findall(hub.api.get("/metrics").text):
            if 'transport="mqtt"' in labels and 'profile="zigbee2mqtt"' in labels:
                total += float(value)
    return total


def _start(n: int, tmp: Path, broker, pg_url: str, shards: dict, csv: str, tag: str):
    from tests.hub_process import HubProcess

    prefix = f"bench-{tag}-{uuid.uuid4().hex[:6]}"
    hubs = [HubProcess(tmp / f"{tag}-hub-{k}", mqtt_port=broker.port, client_id=prefix, extra_env={
        "CAREHUB_DATABASE_URL": pg_url, "CAREHUB_CLUSTER_ENABLED": "true", "CAREHUB_HUB_ID": f"hub-{k}",
        "CAREHUB_CLUSTER_SHARDS": json.dumps(shards), "CAREHUB_MQTT_CATCH_ALL": "false"}) for k in range(1, n + 1)]
    hubs[0].import_devices(csv)
    key = hubs[0].create_api_key("bench-admin")
    for hub in hubs:
        hub._admin_key = key
        hub.start(ready=lambda h: bool(h.get("cluster") and h["cluster"]["in_touch"]))
    return hubs


def _settled(hub, size: int, shards: list[str]) -> bool:
    from hub.cluster.balance import assign

    body = hub.api.get("/api/cluster").json()
    members = [m["hub_id"] for m in body["members"]]
    wanted = assign(shards, members)
    return len(members) == size and all(s["holder"] == wanted[s["shard"]] for s in body["shards"])


def _new_database(admin_url: str) -> str:
    import sqlalchemy as sa

    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def ingest_phase(n: int, tmp: Path, broker, admin_url: str, sites: list[str], args) -> dict:
    """Return the aggregate ingest rate of `n` hubs for one burst of messages."""
    from tests.hub_process import wait_for

    shards = {site: [f"zigbee2mqtt/{site}/#"] for site in sites}
    hubs = _start(n, tmp, broker, _new_database(admin_url), shards, _devices_csv(sites, args.devices), f"ingest{n}")
    try:
        wait_for(lambda: _settled(hubs[0], n, [*sites, "scheduler"]), 60, "shards settled")
        base = _ingested(hubs)
        done = mp.Event()
        started = time.monotonic()
        proc = mp.Process(target=_publish, args=(broker.port, sites, args.devices, args.messages, done))
        proc.start()
        deadline = started + 600
        while _ingested(hubs) - base < args.messages * 0.999 and time.monotonic() < deadline:
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        proc.join(10)
        got = _ingested(hubs) - base
        return {"hubs": n, "messages": int(got), "seconds": elapsed, "rate": got / elapsed}
    finally:
        for hub in hubs:
            hub.stop()


def takeover_phase(tmp: Path, broker, admin_url: str, sites: list[str], args) -> list[dict]:
    """Kill the holder of a site `--kills` times; return takeover seconds and the SOS latency for each."""
    import sqlalchemy as sa
    from paho.mqtt import publish

    from tests.hub_process import wait_for

    shards = {site: [f"zigbee2mqtt/{site}/#"] for site in sites}
    pg_url = _new_database(admin_url)
    hubs = _start(2, tmp, broker, pg_url, shards, _devices_csv(sites, len(sites)), "takeover")
    engine = sa.create_engine(pg_url)
    out = []
    try:
        for k in range(args.kills):
            wait_for(lambda: _settled(hubs[0] if hubs[0].proc.poll() is None else hubs[1], 2,
                                      [*sites, "scheduler"]), 60, "shards settled")
            site = sites[k % len(sites)]
            holders = {s["shard"]: s["holder"] for s in hubs[0].api.get("/api/cluster").json()["shards"]}
            victim = next(h for h in hubs if h.env["CAREHUB_HUB_ID"] == holders[site])
            other = next(h for h in hubs if h is not victim)
            victim.kill()
            killed, pressed = time.monotonic(), time.time()
            publish.single(f"zigbee2mqtt/{site}/sos", json.dumps({"action": "emergency", "n": k}), qos=1,
                           hostname="127.0.0.1", port=broker.port)
            def taken(other=other, site=site):
                shards = other.api.get("/api/cluster").json()["shards"]
                return {s["shard"]: s["holder"] for s in shards}.get(site) == other.env["CAREHUB_HUB_ID"]

            wait_for(taken, 30, "the site taken over")
            takeover = time.monotonic() - killed
            query = sa.text("SELECT received_at FROM device_events WHERE kind = 'sos' AND device_key = :k"
                            " AND received_at >= :t ORDER BY id LIMIT 1")
            params = {"k": f"z2m:{site}/sos", "t": pressed - 1}

            def recorded(query=query, params=params):
                with engine.connect() as conn:
                    return conn.execute(query, params).scalar()

            at = wait_for(recorded, 30, "the SOS recorded")
            out.append({"kill": k + 1, "site": site, "victim": victim.env["CAREHUB_HUB_ID"],
                        "takeover_s": takeover, "sos_latency_s": at - pressed})
            print(f"  kill {k + 1}: {victim.env['CAREHUB_HUB_ID']} holding {site}; taken over in {takeover:.1f} s, "
                  f"SOS pressed at the kill recorded after {at - pressed:.1f} s", flush=True)
            victim.start(ready=lambda h: bool(h.get("cluster") and h["cluster"]["in_touch"]))
    finally:
        engine.dispose()
        for hub in hubs:
            hub.stop()
    return out


def _spread(values: list[float]) -> str:
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


def main() -> None:
    """Run both phases and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=4)
    ap.add_argument("--devices", type=int, default=400)
    ap.add_argument("--messages", type=int, default=60_000)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (hub logs)")
    args = ap.parse_args()
    from tests.servers import start_mosquitto, start_postgres

    sites = [f"bench-{n}" for n in range(1, args.sites + 1)]
    tmp = Path(tempfile.mkdtemp(prefix="carehub-bench-cluster-"))
    postgres, broker = start_postgres(), start_mosquitto(tmp / "mosquitto")
    try:
        admin_url = postgres.extra["url"]
        one = ingest_phase(1, tmp, broker, admin_url, sites, args)
        two = ingest_phase(2, tmp, broker, admin_url, sites, args)
        print(f"\nAggregate ingest ({args.devices} devices over {args.sites} site shards, {args.messages} messages):")
        for row in (one, two):
            print(f"  {row['hubs']} hub(s): {row['messages']} in {row['seconds']:.1f} s = {row['rate']:,.0f} msg/s")
        print(f"  two hubs / one hub: {two['rate'] / one['rate']:.2f}")
        print(f"\nTakeover over {args.kills} kills (two hubs, default lease settings):", flush=True)
        kills = takeover_phase(tmp, broker, admin_url, sites, args)
        print(f"  takeover min / median / max: {_spread([k['takeover_s'] for k in kills])} s")
        print(f"  SOS pressed at the kill, publish to recorded, min / median / max: "
              f"{_spread([k['sos_latency_s'] for k in kills])} s")
    finally:
        broker.stop()
        postgres.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
