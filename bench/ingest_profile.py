"""Per-message CPU of the ingest path, single-threaded, without a broker: where the time goes.

    .venv/bin/python bench/ingest_profile.py [--devices 1000] [--messages 100000] [--profile STAGE]

Builds the real `Hub` (SQLite registry with `--devices` Zigbee2MQTT smoke detectors, as
bench/ingest.py registers them) without starting its threads, then runs the benchmark's messages
through each stage in turn on this thread and prints CPU µs per message:

- `paho+loads`: MQTT PUBLISH packets read by a paho client from a socket pair, `on_message` doing
  only `json.loads` (the bare subscriber of bench/ingest.py);
- `paho+router`: the same packets through the hub's `MqttIngest` callback (decode, triage, lane);
- `processor`: `Processor.process` of every queued delivery (directory, health, conditions, telemetry
  enqueue, listeners);
- `encode`: the telemetry writer turning its queue into line protocol.

The ratio the acceptance asks about is roughly paho+loads / (paho+router + processor + encode):
bench/ingest.py runs all of it on 2 shared cores next to the broker, the publisher and InfluxDB.
`--profile STAGE` prints the top cProfile entries of that stage.

`--threaded [--rate MSG_S]` instead runs paho's loop and the processor on their own threads (the
telemetry writer too, into a sink that only gzips), fed by another process as fast as it can or at
`--rate`, and prints msg/s and, when paced, publish-to-processed latency of the battery readings.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import pstats
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import HUB_ROOT, _payload_prefixes, register_devices  # noqa: E402

CHUNK = 500  # packets written to the socket pair before paho reads them (the buffer is finite)


def publish_packet(topic: str, payload: bytes) -> bytes:
    """Return an MQTT 3.1.1 QoS 0 PUBLISH packet."""
    body = len(topic).to_bytes(2, "big") + topic.encode() + payload
    n, length = len(body), bytearray()
    while True:
        byte, n = n % 128, n // 128
        length.append(byte | (128 if n else 0))
        if not n:
            break
    return b"\x30" + bytes(length) + body


def packets(devices: int, count: int, rate: float = 8000.0) -> list[bytes]:
    """Return `count` benchmark messages round-robin over `devices`, stamped as if sent at `rate`/s."""
    prefixes = _payload_prefixes(devices)
    start_ms = time.time() * 1000 - count / rate * 1000
    return [publish_packet(f"{HUB_ROOT}/bench/dev{i % devices}",
                           prefixes[i % devices] + b"%d}" % int(start_ms + i / rate * 1000))
            for i in range(count)]


def feed(client, data: list[bytes]) -> None:
    """Push packets through paho's reader on a socket pair, CHUNK at a time."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    client._sock = client._wrap(reader)
    try:
        for start in range(0, len(data), CHUNK):
            writer.sendall(b"".join(data[start:start + CHUNK]))
            while client._packet_read() == 0:
                pass
    finally:
        client._sock = None
        reader.close()
        writer.close()


def _write_all(sock: socket.socket, data: list[bytes], devices: int, rate: float) -> None:
    """Write the packets (feeder process of --threaded); paced ones are stamped when sent."""
    if not rate:
        for start in range(0, len(data), CHUNK):
            sock.sendall(b"".join(data[start:start + CHUNK]))
    else:  # paced: stamp each message with its send time, like the publisher of bench/ingest.py
        prefixes = _payload_prefixes(devices)
        topics = [f"{HUB_ROOT}/bench/dev{i}" for i in range(devices)]
        started = time.time()
        for i in range(len(data)):
            target = started + i / rate
            now = time.time()
            if now < target:
                time.sleep(target - now)
            d = i % devices
            sock.sendall(publish_packet(topics[d], prefixes[d] + b"%d}" % int(time.time() * 1000)))
    sock.close()


class GzipSink:
    """A telemetry sink that does what the InfluxDB sinks do before the HTTP request: join and gzip."""

    name = "gzip-only"

    def send(self, lines: list[str]) -> None:
        gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1)

    def close(self) -> None:
        pass


def threaded(hub, data: list[bytes], devices: int, rate: float) -> float:
    """Run paho's reader and the processor on their own threads, packets written by another process.

    Returns the wall time from the first packet to the last delivery processed, in seconds.
    """
    import multiprocessing as mp

    client = hub.mqtt.client
    reader, writer = socket.socketpair()
    feeder = mp.get_context("fork").Process(target=_write_all, args=(writer, data, devices, rate), daemon=True)
    base = hub.processor.processed

    def network() -> None:
        # paho's own loop step: one select, then one packet read (what loop_forever repeats)
        while client._loop(1.0) == 0:
            pass

    reader.setblocking(False)
    client._sock = client._wrap(reader)
    thread = threading.Thread(target=network, name="network", daemon=True)
    hub.processor.start()
    start = time.perf_counter()
    feeder.start()
    writer.close()
    thread.start()
    while hub.processor.processed - base < len(data):
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    feeder.join()
    thread.join(5)
    client._sock = None
    reader.close()
    return elapsed


def timed(name: str, fn, count: int, profile: str) -> float:
    """Run `fn()` and return its CPU µs per message; print a cProfile table when asked."""
    prof = cProfile.Profile() if profile == name else None
    start = time.process_time()
    if prof:
        prof.enable()
    fn()
    if prof:
        prof.disable()
    used = (time.process_time() - start) / count * 1e6
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return used


def main() -> None:
    """Time each stage and print µs per message."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--profile", choices=("paho+loads", "paho+router", "processor", "encode"), default="")
    ap.add_argument("--threaded", action="store_true",
                    help="instead: paho reader and processor on their own threads, fed by another process")
    ap.add_argument("--linger", type=float, default=None, help="override TelemetryLane.linger (s)")
    ap.add_argument("--rate", type=float, default=0.0, help="with --threaded: send at this rate (msg/s)")
    args = ap.parse_args()

    import gc
    import logging

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from hub.config import Settings
    from hub.runtime import Hub

    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="carehub-ingest-profile-"))
    try:
        settings = Settings(data_dir=tmp, mqtt_url="mqtt://127.0.0.1:1", influx_url="http://127.0.0.1:1",
                            influx_api="v1", influx_database="bench", mqtt_client_id="profile")
        register_devices(settings, args.devices)
        hub = Hub(settings)
        hub.telemetry_lane.maxsize = 1 << 30  # keep every delivery: the stages run one after another
        hub.telemetry.queue_lines = 1 << 30
        data = packets(args.devices, args.messages)
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)

        if args.linger is not None:
            hub.telemetry_lane.linger = args.linger
        if args.threaded:
            hub.telemetry.sink = GzipSink()
            hub.telemetry.start()
            latencies: list[float] = []
            hub.processor.add_listener(lambda messages, _ref: latencies.extend(
                time.time() - m.ts for m in messages if getattr(m, "metric", "") == "battery"))
            seconds = threaded(hub, data, args.devices, args.rate)
            latencies.sort()
            p50, p99 = (latencies[int(q * (len(latencies) - 1))] * 1e3 for q in (0.5, 0.99))
            print(f"threaded: {args.messages / seconds:,.0f} msg/s, {hub.telemetry_lane.dropped} lane drops"
                  + (f", latency p50 {p50:.1f} ms p99 {p99:.1f} ms" if args.rate else ""))
            return

        bare = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bare")
        bare._wrap = lambda sock: sock  # the bare subscriber reads the socket the way paho does
        loads = json.loads
        bare.on_message = lambda _c, _u, message: loads(message.payload)
        results = {"paho+loads": timed("paho+loads", lambda: feed(bare, data), args.messages, args.profile)}
        results["paho+router"] = timed("paho+router", lambda: feed(hub.mqtt.client, data), args.messages,
                                       args.profile)
        deliveries = hub.telemetry_lane.take(0, limit=len(hub.telemetry_lane) + 1)
        assert len(deliveries) == args.messages, (len(deliveries), args.messages)

        def process() -> None:
            for delivery in deliveries:
                hub.processor.process(delivery, recorded=False)

        results["processor"] = timed("processor", process, args.messages, args.profile)
        lines = len(hub.telemetry._queue)
        results["encode"] = timed("encode", lambda: hub.telemetry._take(lines), args.messages, args.profile)
        hub.processor._pending_events.clear()

        hub_total = results["paho+router"] + results["processor"] + results["encode"]
        for name, us in results.items():
            print(f"{name:12} {us:7.1f} µs/message")
        print(f"{'hub total':12} {hub_total:7.1f} µs/message ({lines / args.messages:.1f} telemetry lines each)")
        print(f"paho+loads / hub total: {results['paho+loads'] / hub_total:.2f}")

    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
