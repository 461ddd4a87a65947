"""Benchmark: wristband acceleration (N devices, 50 Hz, 1 s batches) through decode and the detectors.

    .venv/bin/python bench/detect.py [--devices 5000] [--seconds 20] [--no-mqtt]
                                     [--mqtt-devices 1000,2000,2500] [--mqtt-seconds 20] [--publishers 1]

Acceleration comes from the simulator's `AccelBank` (postures, walking, eating, sleep, sensor noise;
a quarter of the bands jitter and drop samples and send per-sample offsets), encoded with the
simulator's `wire.encode_accel`. 1 % of the bands fall half-way through.

Part 1, in this process, on the same batches, each stage with its own fresh detector:
  decode       `NativeProfile.decode`, the hub's decoder, on every payload;
  fall batched `FallDetector.update_many` with the whole 1-s batch of all devices;
  fall per msg `FallDetector.update` once per message, as the engine called it before it batched;
  inactivity   `DetectionEngine._wristband_activity` per engine flush (|a| spread -> wear);
  engine       `DetectionEngine.on_message`, the listener the hub runs, with `flush_accel` every
               N x accel_flush_s messages, as the engine's timer thread does when the bands' batches
               arrive evenly over the second (fall update_many + inactivity + cancel window);
  baseline     |a| of every sample with NumPy, the least any detector must do.
CPU is `time.process_time` per simulated second; ratios are against the baseline of the same run.

Part 2 (`--mqtt`, on when /usr/sbin/mosquitto exists): a real Mosquitto, a real hub process
(`python -m hub serve`, SQLite, local telemetry) with N wristbands imported from CSV, and publisher
processes sending each band's 1-s batch once a second, spread over the second. Figures come from
the hub's /metrics and its process CPU (psutil).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import socket
import struct
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests.servers` is not an installed package
    sys.path.insert(0, str(ROOT))

RATE_HZ = 50
FALL_SHARE = 0.01
CPU_BUDGET_MS = 1000.0  # decode + detect per simulated second (acceptance)
STATE_LIMIT = 8192  # bytes per device (acceptance)
MOSQUITTO = "/usr/sbin/mosquitto"
POLL_S = 0.25  # /metrics scrape period while publishing (each scrape costs the hub ~1 ms)
IDLE_S = 3.0
T0_FIELD = struct.Struct("<d")  # t0 sits at byte 4 of the accel header (docs/protocol.md)


# -- the stream -----------------------------------------------------------------------------------

def pick_fallers(devices: int, seed: int) -> list[int]:
    """Return the device indices that fall, FALL_SHARE of them (at least one)."""
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(devices, max(1, round(devices * FALL_SHARE)), replace=False).tolist())


def accel_payloads(devices: list[int], seconds: int, *, fallers: set[int], seed: int,
                   t0: float) -> list[list[bytes]]:
    """Return per simulated second the native accel payload of each device, batch `sec` starting at t0 + sec."""
    from firmware_sim import wire
    from firmware_sim.accel import AccelBank, Activity

    n = len(devices)
    bank = AccelBank(n, rate_hz=RATE_HZ, seed=seed)
    rng = np.random.default_rng(seed + 1)
    acts = [Activity.REST, Activity.STAND, Activity.WALK, Activity.SLEEP, Activity.EAT]
    choice = rng.choice(len(acts), n, p=[0.5, 0.1, 0.15, 0.15, 0.1])
    falling = [i for i, d in enumerate(devices) if d in fallers]
    for i in range(n):
        # Fallers stand before they fall; falls from bed are another story.
        bank.set_activity(i, Activity.STAND if i in falling else acts[choice[i]], 0.0, transition_s=0.0)
    fall_sec = seconds // 2
    out = []
    for sec in range(seconds):
        t = float(sec)
        for i in falling:
            if sec == fall_sec:
                bank.fall(i, t + 0.5)
        times, keep = bank.sample_times(t)
        counts = wire.to_counts(bank.generate(t, times))
        offsets = np.clip(np.rint((times - t) * 1000), 0, 65535).astype("<u2")
        row = []
        for i in range(n):
            if bank.jittered[i]:
                k = keep[i]
                row.append(wire.encode_accel(t0 + t, RATE_HZ, counts[i][k], offsets[i][k]))
            else:
                row.append(wire.encode_accel(t0 + t, RATE_HZ, counts[i]))
        out.append(row)
    return out


def device_id(i: int) -> str:
    """Return the native device id of bench wristband i."""
    return f"bench-wb-{i:05d}"


# -- part 1: in process ---------------------------------------------------------------------------

class Stage:
    """CPU and wall seconds of one stage over the whole run."""

    def __init__(self, name: str) -> None:
        self.name, self.cpu, self.wall = name, 0.0, 0.0

    def __enter__(self) -> Stage:
        self._c, self._w = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *_exc) -> None:
        self.cpu += time.process_time() - self._c
        self.wall += time.perf_counter() - self._w


def detection_engine(devices: int):
    """Return a DetectionEngine (timer thread not started) writing detections to in-memory SQLite."""
    from hub.db import Base, make_engine, make_session_factory
    from hub.detect import models as _detect_models  # noqa: F401  (tables)
    from hub.detect.engine import DetectionEngine
    from hub.devices import models as _device_models  # noqa: F401
    from hub.events import models as _event_models  # noqa: F401

    db = make_engine("sqlite://")
    Base.metadata.create_all(db)
    return DetectionEngine(session_factory=make_session_factory(db), fall_capacity=devices,
                           inactivity_capacity=devices)


def slot_map_bytes(engine, devices: int) -> int:
    """Return the Python-side bytes per device of the detectors' slot maps (dicts, key lists)."""
    fall, inact = engine.fall, engine.inactivity
    total = sum(sys.getsizeof(x) for x in (fall._slots, fall._keys, fall._free, inact._slots, inact._keys,
                                            inact._meta, inact._free, engine._refs))
    total += sum(sys.getsizeof(k) for k in fall._slots) + sum(sys.getsizeof(m) for m in inact._meta[:devices])
    return total // devices


def run_in_process(args) -> dict:
    """Run part 1 and print its table; return the figures."""
    from device_drivers.profiles.native import NativeProfile
    from firmware_sim.wire import native_accel_topic
    from hub.detect.engine import batch_spread
    from hub.detect.fall import FallDetector
    from hub.devices.directory import DeviceRef

    n, seconds = args.devices, args.seconds
    fallers = set(pick_fallers(n, args.seed))
    t0 = float(int(time.time()) - seconds - 2)
    c = time.perf_counter()
    payloads = accel_payloads(list(range(n)), seconds, fallers=fallers, seed=args.seed, t0=t0)
    gen_s = time.perf_counter() - c
    topics = [native_accel_topic(device_id(i)) for i in range(n)]
    refs = [DeviceRef(id=i + 1, kind="wristband", name=f"Wristband {i}", site_id=1, room_id=1 + i // 2,
                      resident_id=i + 1, supervision_s=900.0) for i in range(n)]
    samples = sum((len(p) - 18) // 6 if p[3] == 0 else (len(p) - 18) // 8 for row in payloads for p in row)
    print(f"part 1, in process: {n} wristbands x {RATE_HZ} Hz, {seconds} s simulated, 1-s batches, "
          f"{samples:,} samples ({gen_s:.1f} s to synthesise and encode)", flush=True)

    profile = NativeProfile()
    decode = Stage("decode (NativeProfile.decode)")
    batches: list[list] = []
    for sec, row in enumerate(payloads):
        received = t0 + sec + 1.0
        with decode:
            batches.append([profile.decode(topic, p, received_at=received)[0]
                            for topic, p in zip(topics, row, strict=True)])
    del payloads

    baseline = Stage("baseline: |a| of every sample")
    for batch in batches:
        with baseline:
            np.linalg.norm(np.concatenate([m.xyz for m in batch]), axis=1)

    fall_many = Stage("fall, update_many per 1-s batch")
    det = FallDetector(n)
    found_many = []
    for batch in batches:
        with fall_many:
            found_many += det.update_many((m.device_key, m.t, m.xyz) for m in batch)

    fall_one = Stage("fall, update per message (engine before)")
    det = FallDetector(n)
    found_one = []
    for batch in batches:
        with fall_one:
            for m in batch:
                found_one += det.update(m.device_key, m.t, m.xyz)

    inactivity = Stage("inactivity, as the engine feeds it")
    engine = detection_engine(n)
    per_flush = max(1, round(n * engine.accel_flush_s))  # messages between two timer-thread flushes
    for batch in batches:
        with inactivity:
            for i in range(0, n, per_flush):
                items = list(zip(batch[i:i + per_flush], refs[i:i + per_flush], strict=True))
                # the engine's own feeding, so the bench cannot drift from it
                engine._wristband_activity(items, batch_spread([m for m, _ in items]))
    moving = int(np.count_nonzero(~np.isnan(engine.inactivity.last_t)))

    listener = Stage("engine: on_message + flush_accel (as wired)")
    engine = detection_engine(n)
    for batch in batches:
        with listener:
            for i, (m, ref) in enumerate(zip(batch, refs, strict=True)):
                engine.on_message(m, ref)
                if (i + 1) % per_flush == 0:
                    engine.flush_accel()
            engine.flush_accel()
    with engine.session_factory() as session:
        from hub.detect.models import DetectionRecord
        engine.flush()
        engine_falls = {r.subject for r in session.query(DetectionRecord).filter(
            DetectionRecord.type.in_(("fall", "fall_suspected")))}
    engine_falls |= {d.subject for d in engine.cancel.held()}  # falls waiting out their cancel window

    per_s = 1000.0 / seconds
    fall_bytes = engine.fall.state_bytes_per_device()
    inact_bytes = engine.inactivity.state_bytes_per_resident()
    maps = slot_map_bytes(engine, n)
    base_ms = baseline.cpu * per_s
    stages = (decode, fall_many, fall_one, inactivity, listener, baseline)
    print(f"\n{'stage':44}{'CPU ms/sim s':>13}{'wall ms/sim s':>14}{'samples/s (CPU)':>17}{'x baseline':>11}")
    for st in stages:
        print(f"{st.name:44}{st.cpu * per_s:13.1f}{st.wall * per_s:14.1f}{samples / st.cpu:17,.0f}"
              f"{st.cpu * per_s / base_ms:11.1f}")
    batched = (decode.cpu + fall_many.cpu + inactivity.cpu) * per_s
    wired = (decode.cpu + listener.cpu) * per_s
    print(f"{'total decode + fall batched + inactivity':44}{batched:13.1f}{'':14}{samples / batched * per_s:17,.0f}"
          f"{batched / base_ms:11.1f}")
    print(f"{'total decode + engine.on_message (as wired)':44}{wired:13.1f}{'':14}{samples / wired * per_s:17,.0f}"
          f"{wired / base_ms:11.1f}")

    def who(found) -> str:
        keys = {str(f.device_key) if hasattr(f, "device_key") else f for f in found}
        hit = len({f"ch:{device_id(i)}" for i in fallers} & keys)
        return f"{hit}/{len(fallers)} fallers, {len(keys) - hit} other devices"

    print(f"\nfalls detected: update_many {who(found_many)}; update {who(found_one)}; engine {who(engine_falls)} "
          f"({len(engine.cancel.held())} of them held in the cancel window)")
    print(f"inactivity: {moving}/{n} residents had wristband movement (a gap timer running)")
    print(f"state per device: fall {fall_bytes:,} B + inactivity {inact_bytes:,} B = {fall_bytes + inact_bytes:,} B "
          f"of arrays; + {maps} B Python slot maps")
    state = fall_bytes + inact_bytes + maps
    print(f"{'PASS' if batched < CPU_BUDGET_MS else 'FAIL'}: decode + detect (batched) {batched:.0f} ms CPU "
          f"per simulated second (target < {CPU_BUDGET_MS:.0f})")
    print(f"{'PASS' if wired < CPU_BUDGET_MS else 'FAIL'}: decode + detect (as wired) {wired:.0f} ms CPU "
          f"per simulated second (target < {CPU_BUDGET_MS:.0f})")
    print(f"{'PASS' if state <= STATE_LIMIT else 'FAIL'}: state {state:,} B per device (target <= {STATE_LIMIT:,})",
          flush=True)
    return {"batched_ms": batched, "wired_ms": wired, "state": state}


# -- part 2: the whole pipeline with MQTT ---------------------------------------------------------

def publisher(port: int, devices: list[int], seconds: int, fallers: set[int], seed: int, conn) -> None:
    """Pre-encode every batch of `devices`, report ready, then publish them once a second from a start time."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from firmware_sim.wire import native_accel_topic

    payloads = [[bytearray(p) for p in row]
                for row in accel_payloads(devices, seconds, fallers=fallers, seed=seed, t0=0.0)]
    topics = [native_accel_topic(device_id(d)) for d in devices]
    samples = sum((len(p) - 18) // 6 if p[3] == 0 else (len(p) - 18) // 8 for row in payloads for p in row)
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"bench-wb-pub-{uuid.uuid4().hex[:8]}")
    client.max_queued_messages_set(0)
    client.on_socket_open = lambda _c, _u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    conn.send("ready")
    start = conn.recv()
    n = len(devices)
    publish, pack, now = client.publish, T0_FIELD.pack_into, time.time
    max_late = 0.0
    for sec in range(seconds):
        for j in range(n):
            # Each band sends the second it just finished, the bands spread evenly over the second.
            target = start + sec + j / n
            late = now() - target
            if late < 0:
                time.sleep(-late)
            else:
                max_late = max(max_late, late)
            buf = payloads[sec][j]
            pack(buf, 4, start + sec - 1.0)
            publish(topics[j], buf, qos=0)
    finished = now()
    client.publish("bench/end", b"", qos=1).wait_for_publish(60)
    client.disconnect()
    client.loop_stop()
    conn.send({"published": n * seconds, "samples": samples, "finished": finished, "max_late": max_late})


def scrape(url: str) -> dict[str, float]:
    """Return the hub counters this benchmark reads from /metrics."""
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=10).text
    wanted = {
        "processed": r'^carehub_canonical_messages_total\{type="accel"\} (\S+)',
        "received": r'^carehub_ingest_messages_total\{profile="native",transport="mqtt"\} (\S+)',
        "dropped": r"^carehub_telemetry_lane_dropped_total (\S+)",
        "depth": r'^carehub_lane_depth\{lane="telemetry"\} (\S+)',
        "lat_sum": r'^carehub_receive_to_event_seconds_sum\{lane="telemetry"\} (\S+)',
        "lat_count": r'^carehub_receive_to_event_seconds_count\{lane="telemetry"\} (\S+)',
    }
    out = {}
    for key, pattern in wanted.items():
        m = re.search(pattern, text, re.MULTILINE)
        out[key] = float(m.group(1)) if m else 0.0  # a labelled child appears with its first message
    return out


def fall_subjects(db_path: Path, since: float) -> set[str]:
    """Return the device keys with a fall or suspected fall since `since`, recorded or held in its cancel
    window (the hub's SQLite file)."""
    import json
    import sqlite3

    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as db:
        rows = db.execute("SELECT subject FROM detections WHERE type IN ('fall', 'fall_suspected') AND t >= ?",
                          (since,)).fetchall()
        held = db.execute("SELECT data FROM detector_snapshots WHERE name = 'fall_holds'").fetchall()
    subjects = {subject for (subject,) in rows}
    for (data,) in held:
        subjects |= {h["detection"]["subject"] for h in json.loads(data)["holds"] if h["detection"]["t"] >= since}
    return subjects


def mqtt_phase(ctx, hub, proc, port: int, n: int, args, seed: int) -> dict:
    """Publish N bands for --mqtt-seconds and watch the hub; return the figures of this phase."""
    seconds, publishers = args.mqtt_seconds, max(1, min(args.publishers, n))
    fallers = set(pick_fallers(n, seed))
    pipes, procs = [], []
    for k in range(publishers):
        recv, send = ctx.Pipe()
        p = ctx.Process(target=publisher, args=(port, list(range(k, n, publishers)), seconds, fallers,
                                                seed + k, send), daemon=True)
        p.start()
        pipes.append(recv)
        procs.append(p)
    for pipe in pipes:
        assert pipe.recv() == "ready"
    # Baseline in the same run: the hub's own CPU with the bands registered but silent, /metrics scraped.
    time.sleep(1.0)
    idle0, c = sum(proc.cpu_times()[:2]), time.monotonic()
    while time.monotonic() - c < IDLE_S:
        time.sleep(POLL_S)
        scrape(hub.url)  # scraped like the measured phase, so the baseline carries the scrape cost
    idle = (sum(proc.cpu_times()[:2]) - idle0) / (time.monotonic() - c)
    before = scrape(hub.url)
    cpu0 = sum(proc.cpu_times()[:2])
    start = time.time() + 0.5
    for pipe in pipes:
        pipe.send(start)
    expected = n * seconds
    max_backlog = max_depth = 0.0
    last, since, drained_at = -1.0, time.monotonic(), None
    while True:
        time.sleep(POLL_S)
        m = scrape(hub.url)
        done = m["processed"] - before["processed"]
        due = n * min(max(time.time() - start, 0.0), seconds)
        max_backlog = max(max_backlog, due - done)
        max_depth = max(max_depth, m["depth"])
        if done >= expected:
            drained_at = time.time()
            break
        if done != last:
            last, since = done, time.monotonic()
        elif time.time() > start + seconds and time.monotonic() - since > 5.0:
            break  # processing stopped moving: the rest is lost
    cpu = sum(proc.cpu_times()[:2]) - cpu0
    reports = [pipe.recv() for pipe in pipes]
    for p in procs:
        p.join()
    published = sum(r["published"] for r in reports)
    finished = max(r["finished"] for r in reports)
    after = scrape(hub.url)
    time.sleep(3.0)  # the engine writes falls at once; the last ones need post_s of data after the impact
    subjects = fall_subjects(hub.db_path, start - 5.0)
    keys = {f"ch:{device_id(i)}" for i in fallers}
    processed = after["processed"] - before["processed"]
    lat_n = after["lat_count"] - before["lat_count"]
    samples = sum(r["samples"] for r in reports)
    return {
        "n": n, "seconds": seconds, "published": published, "received": after["received"] - before["received"],
        "processed": processed, "dropped": after["dropped"] - before["dropped"],
        "samples": samples * processed / published, "cpu_per_s": cpu / seconds, "idle_cpu": idle,
        "drain_s": (drained_at - finished) if drained_at else float("nan"),
        "max_backlog_s": max_backlog / n, "max_depth": max_depth,
        "mean_latency_ms": (after["lat_sum"] - before["lat_sum"]) / lat_n * 1000 if lat_n else float("nan"),
        "pub_late_s": max(r["max_late"] for r in reports),
        "falls": f"{len(keys & subjects)}/{len(keys)} fallers, {len(subjects - keys)} others",
    }


def kept_up(r: dict) -> bool:
    """Return True when the hub processed everything, dropped nothing and never fell 2 s behind."""
    return (r["processed"] >= r["published"] and r["dropped"] == 0 and r["drain_s"] <= 2.0
            and r["max_backlog_s"] <= 2.0)


def run_mqtt(args) -> None:
    """Run part 2 for every N in --mqtt-devices against one broker and one hub; print the table."""
    import psutil

    from tests.hub_process import HubProcess
    from tests.servers import start_mosquitto

    sizes = sorted(int(x) for x in args.mqtt_devices.split(","))
    ctx = mp.get_context("spawn")
    tmp = Path(tempfile.mkdtemp(prefix="carehub-bench-detect-"))
    broker = hub = None
    try:
        broker = start_mosquitto(tmp / "mosquitto")
        hub = HubProcess(tmp / "hub", mqtt_port=broker.port, client_id=f"carehub-bench-{uuid.uuid4().hex[:8]}")
        rows = ["site,building,room,resident,kind,vendor,model,profile,native_id,supervision_s,name"]
        rows += [f"Bench Home,A,{100 + i // 2},Bench Resident {i:05d},wristband,CareHub,WB-1,native,"
                 f"{device_id(i)},900,Wristband {i}" for i in range(sizes[-1])]
        c = time.perf_counter()
        hub.import_devices("\n".join(rows) + "\n")
        import_s = time.perf_counter() - c
        hub.start(timeout=60)
        proc = psutil.Process(hub.proc.pid)
        time.sleep(2.0)
        print(f"\npart 2, MQTT: Mosquitto + hub process (SQLite, local telemetry), {sizes[-1]} wristbands "
              f"imported from CSV in {import_s:.1f} s, {args.publishers} publisher process(es), "
              f"{args.mqtt_seconds} s per phase", flush=True)
        results = []
        for k, n in enumerate(sizes):
            r = mqtt_phase(ctx, hub, proc, broker.port, n, args, seed=args.seed + 100 * (k + 1))
            results.append(r)
            print(f"  N={n}: {r['processed']:,.0f}/{r['published']:,} processed, hub CPU {r['cpu_per_s']:.2f} s per "
                  f"simulated s, drain {r['drain_s']:.2f} s, kept up: {kept_up(r)}", flush=True)
            time.sleep(2.0)
        report_mqtt(results)
    finally:
        if hub is not None:
            hub.stop()
        if broker is not None:
            broker.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report_mqtt(results: list[dict]) -> None:
    """Print the MQTT table and the largest N that kept up."""
    rows = [
        ("batches published", lambda r: f"{r['published']:,}"),
        ("received by the hub (mqtt, native)", lambda r: f"{r['received']:,.0f}"),
        ("processed (decoded, through the detectors)", lambda r: f"{r['processed']:,.0f}"),
        ("telemetry lane drops", lambda r: f"{r['dropped']:,.0f}"),
        ("messages processed per simulated s", lambda r: f"{r['processed'] / r['seconds']:,.0f}"),
        ("samples processed per simulated s", lambda r: f"{r['samples'] / r['seconds']:,.0f}"),
        ("hub CPU s per simulated s", lambda r: f"{r['cpu_per_s']:.2f}"),
        ("hub CPU s/s idle, same bands silent (baseline)", lambda r: f"{r['idle_cpu']:.3f}"),
        ("hub CPU per batch above idle, ms",
         lambda r: f"{(r['cpu_per_s'] - r['idle_cpu']) * r['seconds'] / max(r['processed'], 1) * 1000:.3f}"),
        ("max backlog, s of traffic (0.25-s scrapes)", lambda r: f"{r['max_backlog_s']:.2f}"),
        ("max telemetry lane depth", lambda r: f"{r['max_depth']:,.0f}"),
        ("drain after last publish, s", lambda r: f"{r['drain_s']:.2f}"),
        ("mean receive-to-processed, ms", lambda r: f"{r['mean_latency_ms']:.1f}"),
        ("publisher max lateness, s", lambda r: f"{r['pub_late_s']:.2f}"),
        ("falls detected", lambda r: r["falls"]),
        ("kept up", lambda r: "yes" if kept_up(r) else "NO"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\n{'N wristbands':{width}}" + "".join(f"{r['n']:>26,}" for r in results))
    for name, cell in rows:
        print(f"{name:{width}}" + "".join(f"{cell(r):>26}" for r in results))
    ok = [r["n"] for r in results if kept_up(r)]
    print(f"\nlargest N that kept up: {max(ok) if ok else 'none of ' + str([r['n'] for r in results])}")


def main() -> None:
    """Run part 1 and, when asked and possible, part 2."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=5000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--mqtt", action=argparse.BooleanOptionalAction, default=os.path.exists(MOSQUITTO),
                    help="run part 2 (default: on when /usr/sbin/mosquitto exists)")
    ap.add_argument("--mqtt-devices", default="1000,2000,2500",
                    help="comma-separated N per phase, smallest first (one hub, one broker)")
    ap.add_argument("--mqtt-seconds", type=int, default=20)
    ap.add_argument("--publishers", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    args = ap.parse_args()
    print(f"CareHub detector benchmark, nproc={os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    run_in_process(args)
    if not args.mqtt:
        why = "--no-mqtt given" if os.path.exists(MOSQUITTO) else f"{MOSQUITTO} is not installed"
        print(f"\npart 2, MQTT: skipped ({why})")
        return
    run_mqtt(args)


if __name__ == "__main__":
    main()
