"""Benchmark: Zigbee2MQTT JSON from many devices through a real Mosquitto into the hub.

    .venv/bin/python bench/ingest.py [--devices 1000] [--messages 200000] [--influx v1|local]

Starts a real Mosquitto and a real InfluxDB 1.x in a temporary directory, registers `--devices`
smoke detectors (`z2m:bench/dev{i}`) plus one SOS button, runs the Hub in this process and a
publisher in another process. Four phases, all in the same run on the same broker (the first two
alternate `--rounds` times, 3 by default, and the round with the median ratio is reported):

1. baseline, saturating: a bare paho subscriber (own process) that only `json.loads` each payload;
2. hub, saturating: decode → device directory → health → telemetry enqueue → listeners, InfluxDB
   batching running; sustained rate = deliveries processed / (last processed - first processed);
3. baseline, paced at half the hub rate: publish-to-decoded latency of the bare subscriber;
4. hub, paced at half the hub rate, with an SOS (QoS 1) every 100 ms: publish-to-processed latency
   of telemetry; of the alarms, publish-to-recorded (SQLite commit, PUBACK sent) and publish-to-alert
   (the detectors have raised or joined its alert, in a transaction of their own).

Latency uses the payload's own `last_seen` (epoch ms, as Zigbee2MQTT sends it), stamped by the
publisher at send time; the decoder turns it into `Reading.ts` / `DeviceEvent.ts`, so a hub listener
computes `time.time() - message.ts`. Integer ms truncates the send time: latencies read up to 1 ms high.
The baseline subscriber listens on another topic root (`$zbare/...`) so the hub never sees its stream
(not even its catch-all connection: `#` does not match `$` topics). `--no-catch-all` runs the hub
without that second connection, to see what it costs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests.servers` is not an installed package
    sys.path.insert(0, str(ROOT))

HUB_ROOT = "zigbee2mqtt"
# `$` roots match no `#` subscription: the hub's catch-all connection never sees the baseline's stream.
BARE_ROOT = "$zbare"
SOS_NAME = "bench/sos"
SOS_EVERY_S = 0.1


# -- publisher process -------------------------------------------------------------------------------

def _payload_prefixes(devices: int) -> list[bytes]:
    """Return per device a z2m state object without its closing `last_seen` (stamped at send time)."""
    out = []
    for i in range(devices):
        state = {"battery": 60 + (i % 40) + 0.5, "linkquality": 40 + i % 200, "smoke": False,
                 "battery_low": False, "temperature": round(18 + (i % 80) / 10, 1)}
        out.append(json.dumps(state, separators=(",", ":"))[:-1].encode() + b',"last_seen":')
    return out


def publisher(port: int, root: str, devices: int, count: int, rate: float, sos: bool, done) -> None:
    """Publish `count` z2m state messages round-robin over `devices` at `rate`/s (0: as fast as possible)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    # No Nagle on the device side: a publisher stalled 40 ms by delayed ACKs is not the hub's latency.
    client.on_socket_open = lambda _c, _u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    topics = [f"{root}/bench/dev{i}" for i in range(devices)]
    prefixes = _payload_prefixes(devices)
    sos_topic = f"{root}/{SOS_NAME}"
    publish, now = client.publish, time.time
    sos_sent = 0
    started = now()
    next_sos = started + SOS_EVERY_S
    for i in range(count):
        t = now()
        if rate:
            target = started + i / rate
            if t < target:
                time.sleep(target - t)
                t = now()
            if sos and t >= next_sos:
                next_sos += SOS_EVERY_S
                sos_sent += 1
                # Tuya TS0215A_sos: an emergency action at QoS 1, as an SOS must survive a reconnect.
                publish(sos_topic, b'{"action":"emergency","battery":100,"linkquality":80,"last_seen":%d}'
                        % int(t * 1000), qos=1)
        d = i % devices
        publish(topics[d], prefixes[d] + b"%d}" % int(t * 1000), qos=0)
    finished = now()
    # Everything handed to the socket before reporting: a last QoS 1 message is acked in order.
    client.publish("bench/end", b"{}", qos=1).wait_for_publish(60)
    client.disconnect()
    client.loop_stop()
    done.send({"published": count, "sos": sos_sent, "seconds": finished - started, "cpu": time.process_time()})


# -- bare paho subscriber (the baseline), its own process ----------------------------------------------

def bare_subscriber(port: int, root: str, expect: int, idle_s: float, conn) -> None:
    """Subscribe to `root/#`, json.loads every payload; report count, first/last time and latencies."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    state = {"n": 0, "first": 0.0, "last": 0.0}
    latencies: list[float] = []
    loads, now = json.loads, time.time
    ready = threading.Event()

    def on_connect(client, _u, _f, _rc, _p):
        client.subscribe(f"{root}/bench/+", qos=1)

    def on_subscribe(*_a):
        ready.set()

    def on_message(_c, _u, message):
        obj = loads(message.payload)
        t = now()
        seen = obj.get("last_seen")
        if seen is None or "action" in obj:  # the end marker and the SOS presses are not telemetry
            return
        if not state["n"]:
            state["first"] = t
        state["n"] += 1
        state["last"] = t
        latencies.append(t - seen / 1000.0)

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"bench-bare-{uuid.uuid4().hex[:8]}")
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    ready.wait(10)
    conn.send("ready")
    _wait_stable(lambda: state["n"], expect, idle_s)
    client.disconnect()
    client.loop_stop()
    conn.send({"received": state["n"], "first": state["first"], "last": state["last"], "latencies": latencies,
               "cpu": time.process_time()})


def _wait_stable(counter, expect: int, idle_s: float, timeout: float = 600.0) -> None:
    """Return once `counter()` (or its first item) reached `expect`, or it stopped moving for `idle_s`."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        n = counter()
        progress = n[0] if isinstance(n, tuple) else n
        if progress >= expect:
            return
        if n != last:
            last, since = n, time.monotonic()
        elif progress and time.monotonic() - since > idle_s:
            return
        time.sleep(0.01)


# -- the hub side ----------------------------------------------------------------------------------

class Probe:
    """Hub listener: per telemetry delivery (its battery reading) and per SOS, when it was processed."""

    def __init__(self, sos_key: str) -> None:
        self.sos_key = sos_key
        self.reset()

    def reset(self) -> None:
        """Forget what was seen (between phases)."""
        self.first = self.last = 0.0
        self.n = 0
        self.latencies: list[float] = []
        self.times: list[float] = []
        self.sos_latencies: list[float] = []
        self.sos_recorded: list[float] = []

    def recorded(self, delivery) -> None:
        """AlarmRecorder hook: the SOS is committed and acknowledged (before the detectors see it)."""
        now = time.time()
        for event in delivery.alarm_events:
            if event.kind == "sos" and event.device_key == self.sos_key:
                self.sos_recorded.append(now - event.ts)

    def __call__(self, messages, _ref) -> None:
        for message in messages:
            self.see(message)

    def see(self, message) -> None:
        """Record one processed message if it is a telemetry battery reading or the bench's SOS."""
        if getattr(message, "metric", None) == "battery":
            if message.device_key == self.sos_key:
                return
            t = time.time()
            if not self.n:
                self.first = t
            self.n += 1
            self.last = t
            self.latencies.append(t - message.ts)
            self.times.append(t)
        elif getattr(message, "kind", None) == "sos" and message.device_key == self.sos_key:
            # Called by the AlarmRecorder after the commit, the PUBACK and the detectors: publish-to-alert.
            self.sos_latencies.append(time.time() - message.ts)


def register_devices(settings, devices: int) -> None:
    """Create the schema and import `devices` smoke detectors and one SOS button from CSV rows."""
    import io

    from hub import migrate
    from hub.db import make_engine, make_session_factory, transaction
    from hub.devices.csv_import import import_devices, read_rows

    lines = ["site,building,room,resident,kind,vendor,model,profile,z2m_name,name"]
    lines += [f"Bench Home,A,{100 + i // 2},,smoke_detector,HEIMAN,HS1SA,zigbee2mqtt,bench/dev{i},Smoke {i}"
              for i in range(devices)]
    lines.append(f"Bench Home,A,100,,sos_button,TuYa,TS0215A_sos,zigbee2mqtt,{SOS_NAME},SOS")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as db_session:
        report = import_devices(db_session=db_session, rows=read_rows(io.StringIO("\n".join(lines) + "\n")))
    engine.dispose()
    if not report.ok:
        raise SystemExit(f"device import failed: {report.errors[:3]}")


def influx_count(url: str, database: str, query: str) -> int:
    """Return the single count an InfluxQL query answers (0 when empty)."""
    import httpx

    body = httpx.get(f"{url}/query", params={"db": database, "q": query}, timeout=60).json()
    series = body["results"][0].get("series") or []
    return int(series[0]["values"][0][1]) if series else 0


def pct(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of `values` in milliseconds, nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def cpu_seconds(servers: dict[str, int]) -> dict[str, float]:
    """Return CPU seconds (user + system) used so far by each server process and each hub thread."""
    import psutil

    out = {}
    for name, pid in servers.items():
        times = psutil.Process(pid).cpu_times()
        out[name] = times.user + times.system
    names = {t.native_id: t.name for t in threading.enumerate()}
    for thread in psutil.Process().threads():
        name = "hub: " + names.get(thread.id, "other threads")
        out[name] = out.get(name, 0.0) + thread.user_time + thread.system_time
    return out


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Return CPU seconds per process/thread between two `cpu_seconds` snapshots."""
    return {name: after[name] - before.get(name, 0.0) for name in after}


# -- phases ------------------------------------------------------------------------------------------

def run_publisher(ctx, port: int, root: str, devices: int, count: int, rate: float, sos: bool = False):
    """Start the publisher process; return (process, pipe end that receives its report)."""
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=publisher, args=(port, root, devices, count, rate, sos, send), daemon=True)
    proc.start()
    return proc, recv


def disk_probe(path: str, stop, out) -> None:
    """Own process: append 512 bytes and fsync every 20 ms until `stop`; send each fsync's duration.

    The alarm commit waits for one fsync (`synchronous=FULL`): this is what the disk alone gave it.
    """
    durations = []
    with open(path, "ab") as f:
        while not stop.wait(0.02):
            f.write(b"x" * 512)
            f.flush()
            t0 = time.perf_counter()
            os.fsync(f.fileno())
            durations.append(time.perf_counter() - t0)
    out.send(durations)


def baseline_phase(ctx, port: int, devices: int, count: int, rate: float, sos: bool,
                   servers: dict[str, int]) -> dict:
    """Run the bare subscriber against one published stream; return its report and the publisher's."""
    cpu_before = cpu_seconds(servers)
    parent, child = ctx.Pipe()
    sub = ctx.Process(target=bare_subscriber, args=(port, BARE_ROOT, count, 3.0, child), daemon=True)
    sub.start()
    assert parent.recv() == "ready"
    pub, pub_report = run_publisher(ctx, port, BARE_ROOT, devices, count, rate, sos)
    pub.join()
    report = parent.recv()
    sub.join()
    report["publisher"] = pub_report.recv()
    report["cpu"] = {"bare subscriber": report["cpu"], "publisher": report["publisher"]["cpu"],
                     **cpu_used(cpu_before, cpu_seconds(servers))}
    return report


def hub_phase(ctx, hub, probe: Probe, port: int, devices: int, count: int, rate: float, sos: bool,
              servers: dict[str, int]) -> dict:
    """Publish to the running hub and wait until it stops processing; return counters for this phase."""
    from hub import metrics

    cpu_before = cpu_seconds(servers)
    received = metrics.MESSAGES.labels("mqtt", "zigbee2mqtt")
    base = {"received": received._value.get(), "processed": hub.processor.processed,
            "lane_dropped": hub.telemetry_lane.dropped, "recorded": hub.recorder.recorded,
            "writer_dropped": hub.telemetry.dropped_total}
    probe.reset()
    stop_disk, (disk_out, disk_in) = ctx.Event(), ctx.Pipe()
    disk = ctx.Process(target=disk_probe, args=(str(hub.settings.data_dir / "fsync-probe"), stop_disk, disk_in),
                       daemon=True)
    if sos:
        disk.start()
    pub, pub_report = run_publisher(ctx, port, HUB_ROOT, devices, count, rate, sos)
    pub.join()
    report = {"publisher": pub_report.recv(), "fsync": []}
    if sos:
        stop_disk.set()
        report["fsync"] = disk_out.recv()
        disk.join()
    # Done when every message was processed, or when neither arrivals nor processing moved for 5 s.
    _wait_stable(lambda: (probe.n, received._value.get()), count, 5.0)
    report.update(
        n=probe.n, first=probe.first, last=probe.last, latencies=probe.latencies, times=probe.times,
        sos=probe.sos_latencies, sos_recorded=probe.sos_recorded,
        received=received._value.get() - base["received"],
        processed=hub.processor.processed - base["processed"],
        lane_dropped=hub.telemetry_lane.dropped - base["lane_dropped"],
        recorded=hub.recorder.recorded - base["recorded"],
        writer_dropped=hub.telemetry.dropped_total - base["writer_dropped"],
        cpu={"publisher": report["publisher"]["cpu"], **cpu_used(cpu_before, cpu_seconds(servers))},
    )
    return report


def rate_of(report: dict, key: str) -> float:
    """Return sustained messages/s: count / (last - first)."""
    span = report["last"] - report["first"]
    return report[key] / span if span > 0 else float("nan")


def main() -> None:
    """Run the four phases and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3,
                    help="saturating baseline/hub pairs, run alternately; the median ratio's round is reported")
    ap.add_argument("--paced-seconds", type=float, default=20.0)
    ap.add_argument("--paced-rate", type=float, default=0.0,
                    help="msg/s of the latency phases (default: half the measured hub rate)")
    ap.add_argument("--influx", choices=("v1", "local"), default="v1")
    ap.add_argument("--broker-nagle", action="store_true",
                    help="keep Mosquitto's default (Nagle on) to see what set_tcp_nodelay changes")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    ap.add_argument("--no-catch-all", action="store_true",
                    help="run the hub without its catch-all connection (mqtt_catch_all=False)")
    ap.add_argument("--trace", type=Path, help="write the paced phase's processed time and latency per delivery (CSV)")
    args = ap.parse_args()

    import logging

    from hub.config import Settings
    from hub.runtime import Hub
    from tests.servers import start_influxdb1, start_mosquitto

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx = mp.get_context("spawn")
    tmp = Path(tempfile.mkdtemp(prefix="carehub-bench-"))
    servers = []
    hub = None
    try:
        broker = start_mosquitto(tmp / "mosquitto")
        servers.append(broker)
        if not args.broker_nagle:
            # Mosquitto leaves Nagle on by default; with QoS 1 alarms in the stream it holds QoS 0
            # telemetry ~40 ms (delayed ACK). Production brokers should set this too (docs/performance.md).
            conf = broker.workdir / "mosquitto.conf"
            conf.write_text(conf.read_text() + "set_tcp_nodelay true\n")
            broker.restart()
        influx_url = ""
        if args.influx == "v1":
            influx = start_influxdb1(tmp / "influxdb")
            servers.append(influx)
            influx_url = influx.url
        settings = Settings(data_dir=tmp / "hub", mqtt_url=f"mqtt://127.0.0.1:{broker.port}", influx_url=influx_url,
                            influx_api="v1", influx_database="carehub_bench",
                            mqtt_client_id=f"carehub-bench-{uuid.uuid4().hex[:8]}",
                            mqtt_catch_all=not args.no_catch_all)
        register_devices(settings, args.devices)
        hub = Hub(settings)
        probe = Probe(f"z2m:{SOS_NAME}")
        hub.processor.add_listener(probe)
        hub.recorder.after_commit.append(probe.recorded)
        hub.start()
        if not hub.mqtt.connected.wait(10):
            raise SystemExit("hub did not connect to the broker")
        time.sleep(0.5)  # subscriptions settle

        print(f"CareHub ingest benchmark: {args.devices} devices, {args.messages} messages, "
              f"influx={args.influx}, catch-all={'off' if args.no_catch_all else 'on'}, nproc={os.cpu_count()}, "
              f"Python {platform.python_version()}", flush=True)
        pids = {"mosquitto": broker.proc.pid, **({"influxd": servers[-1].proc.pid} if influx_url else {})}
        rounds = []
        for n in range(1, args.rounds + 1):
            bare = baseline_phase(ctx, broker.port, args.devices, args.messages, 0.0, sos=False, servers=pids)
            bare_rate = rate_of(bare, "received")
            sat = hub_phase(ctx, hub, probe, broker.port, args.devices, args.messages, 0.0, sos=False,
                            servers=pids)
            hub_rate = rate_of(sat, "n")
            rounds.append((hub_rate / bare_rate, bare_rate, hub_rate, bare, sat))
            print(f"  round {n}: baseline {bare['received']}/{args.messages} received, {bare_rate:,.0f} msg/s; "
                  f"hub {sat['n']}/{args.messages} processed, {hub_rate:,.0f} msg/s; ratio {hub_rate / bare_rate:.2f}",
                  flush=True)
        # The machine is shared and its speed drifts: the median round stands for the run.
        _, bare_rate, hub_rate, bare, sat = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]

        paced_rate = args.paced_rate or hub_rate / 2
        paced_count = int(paced_rate * args.paced_seconds)
        bare_paced = baseline_phase(ctx, broker.port, args.devices, paced_count, paced_rate, sos=True,
                                    servers=pids)
        paced = hub_phase(ctx, hub, probe, broker.port, args.devices, paced_count, paced_rate, sos=True,
                          servers=pids)

        if args.trace:
            with args.trace.open("w") as out:
                out.write("t,latency_s\n")
                out.writelines(f"{t - paced['first']:.4f},{lat:.4f}\n"
                               for t, lat in zip(paced["times"], paced["latencies"], strict=True))
        hub.stop()
        stats = hub.telemetry.stats()
        hub = None
        influx_points = None
        if influx_url:
            influx_points = influx_count(influx_url, "carehub_bench",
                                         """SELECT count("battery") FROM "device" WHERE "kind"='smoke_detector'""")

        report(args, bare, sat, bare_paced, paced, bare_rate, hub_rate, paced_rate, stats, influx_points, rounds)
    finally:
        if hub is not None:
            hub.stop()
        for server in reversed(servers):
            server.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(args, bare, sat, bare_paced, paced, bare_rate, hub_rate, paced_rate, stats, influx_points,
           rounds) -> None:
    """Print the result table."""
    pub = sat["publisher"]
    rows = [
        ("sustained rate, msg/s (saturating)", f"{bare_rate:,.0f}", f"{hub_rate:,.0f}", f"{hub_rate / bare_rate:.2f}"),
        ("messages published", f"{bare['publisher']['published']:,}", f"{pub['published']:,}", ""),
        ("publisher rate, msg/s", f"{bare['publisher']['published'] / bare['publisher']['seconds']:,.0f}",
         f"{pub['published'] / pub['seconds']:,.0f}", ""),
        ("messages received", f"{bare['received']:,}", f"{sat['received']:,}", ""),
        ("deliveries processed", "", f"{sat['processed']:,}", ""),
        ("telemetry lane drops", "", f"{sat['lane_dropped']:,}", ""),
        (f"paced rate, msg/s (target {paced_rate:,.0f})", f"{rate_of(bare_paced, 'received'):,.0f}",
         f"{rate_of(paced, 'n'):,.0f}", ""),
        ("paced: received", f"{bare_paced['received']:,}/{bare_paced['publisher']['published']:,}",
         f"{paced['n']:,}/{paced['publisher']['published']:,}", ""),
    ]
    for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
        b, h = pct(bare_paced["latencies"], q), pct(paced["latencies"], q)
        rows.append((f"paced publish-to-event latency {name}, ms", f"{b:.1f}", f"{h:.1f}", f"{h / b:.1f}"))
    for figure, key in (("recorded", "sos_recorded"), ("alert", "sos")):
        for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
            rows.append((f"SOS publish-to-{figure} {name}, ms", "", f"{pct(paced[key], q):.1f}", ""))
    for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
        rows.append((f"disk fsync alone (every 20 ms) {name}, ms", "", f"{pct(paced['fsync'], q):.1f}", ""))
    rows.append(("SOS published / recorded / alerted", "",
                 f"{paced['publisher']['sos']} / {len(paced['sos_recorded'])} / {len(paced['sos'])}", ""))
    rows.append(("telemetry lines written (writer)", "", f"{stats['written_total']:,.0f}", ""))
    rows.append(("telemetry dropped / rejected", "",
                 f"{stats['dropped_total']:,.0f} / {stats['rejected_total']:,.0f}", ""))
    if influx_points is not None:
        expected = sum(r[4]["n"] for r in rounds) + paced["n"]
        rows.append(("InfluxDB battery points (count query)", "", f"{influx_points:,} of {expected:,}", ""))
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'':{width}}  {'bare paho':>12}  {'hub':>16}  {'hub/bare':>8}")
    for name, b, h, ratio in rows:
        print(f"{name:{width}}  {b:>12}  {h:>16}  {ratio:>8}")
    print(f"\nsaturating rounds, hub/bare: {', '.join(f'{r[0]:.2f}' for r in rounds)}; "
          "the table shows the median round")
    print(f"\nCPU during the saturating phases of that round, µs per message ({args.messages:,} messages; "
          "the publisher's whole run; the hub's threads and the servers from phase start to the last message "
          "processed):")
    for name in sorted(set(bare["cpu"]) | set(sat["cpu"])):
        b, h = bare["cpu"].get(name, 0.0), sat["cpu"].get(name, 0.0)
        if b >= 0.005 or h >= 0.005:
            print(f"  {name:44} {b / args.messages * 1e6:9.1f}  {h / args.messages * 1e6:9.1f}")
    print(f"\nhub sustained rate / bare paho rate (median of {len(rounds)} rounds): {hub_rate / bare_rate:.2f}; "
          f"mean paced hub latency {statistics.fmean(paced['latencies']) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
