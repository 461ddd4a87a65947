"""Benchmark: the duty-room console in a real browser with 500 open alerts and 5,000 devices.

    .venv/bin/python bench/console.py [--alerts 500] [--devices 5000] [--repeats 20] [--burst 100]
                                      [--viewports 1920x1080,1440x900] [--keep]

A real Mosquitto and a real hub process (`python -m hub serve`, SQLite) with `--devices` devices
imported from CSV: one Zigbee2MQTT SOS button per resident (`--alerts` residents, one room each,
across four sites with two buildings), one more button for a resident who presses during the timed
part, and the rest wristbands, smoke, gas, CO and heat detectors, fall radars, motion and door
sensors, spread over the residents' rooms. Presses are `{"action":"emergency",...}` at QoS 1 from one
paho client. Debian's chromium (Playwright) signs in as a duty operator and measures, per viewport:

  load     navigation start -> first frame with every open alert in the queue and the counter saying so
  press    SOS publish -> first frame with the new resident's row (then acknowledged and resolved via
           the API; the row's state change and its removal are timed the same way)
  idle     share of 2 s that the renderer's main thread was busy with the queue open and nothing
           arriving (Chrome's TaskDuration metric, CDP Performance.getMetrics)
  burst    `--burst` presses at once (each joins an open alert: one alert change each) -> first frame
           showing all of them; long tasks (PerformanceObserver 'longtask') and the input delay of
           clicks made every 50 ms meanwhile
  floor    navigation start -> first frame of the floor page with every device listed; then the same
           burst with the floor page open, until the page's own feed has had every change and a frame
           followed (the floor shows no join counts, so the console's live.js module is asked)
During both bursts Playwright clicks a heading and checks for the end every 50 ms; the longest such round
trip says how long the page kept an operator waiting.

Baseline, same run, same hub and devices: 1 open alert (the burst presses its button `--burst` times).
Then the other `--alerts` - 1 buttons are pressed and everything runs again. Times come from the page
(MutationObserver, then the next animation frame, so they include style, layout and paint of the frame
that shows the change) against the publisher's clock: the same host clock.

A stored catch-all escalation policy tells the duty room at once and waits an hour for the next step,
so the timed windows carry only the benchmark's own alert changes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests.servers` is not an installed package
    sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-console-password"
SITES = 4
OTHER_KINDS = [("wristband", "CareHub", "CH-WB1", "native"), ("smoke_detector", "Heiman", "HS1SA", "zigbee2mqtt"),
               ("motion_sensor", "Aqara", "RTCGQ11LM", "zigbee2mqtt"),
               ("door_sensor", "Aqara", "MCCGQ11LM", "zigbee2mqtt"), ("fall_radar", "CareHub", "FR-60", "native"),
               ("gas_detector", "Heiman", "HS1CG", "zigbee2mqtt"), ("co_detector", "Heiman", "HS1CA", "zigbee2mqtt"),
               ("heat_detector", "Heiman", "HS1HT", "zigbee2mqtt"), ("other", "Tuya", "TS011F", "zigbee2mqtt")]
SOS_PAYLOAD = json.dumps({"action": "emergency", "battery": 90, "linkquality": 100})
LOADS = 3  # page loads per figure (the first one also fetches the console's modules)
TARGETS = {"load_ms": 2000.0, "update_ms": 1000.0, "longtask_ms": 200.0}

# Injected into every page before its own scripts: timers that resolve on the first animation frame after a
# condition holds, the long-task log and the input delay of every click.
PAGE_PROBE = """
(() => {
  const B = window.__bench = { longtasks: [], clickDelays: [], armed: {}, results: {} };
  const rows = () => [...document.querySelectorAll(".alert-row")];
  const count = (r) => Number(r.querySelector(".count")?.textContent.replace(/\\D/g, "") || 1);
  const row = (id) => document.querySelector(`.alert-row[data-alert-id="${id}"]`);
  const CHECKS = {
    queue: (n) => () => rows().length === n && document.querySelector("#queue-counter")?.dataset.count === String(n),
    floor: (n) => () => document.querySelectorAll("#floor-grid .devices li").length === n,
    rowFor: (name) => () => rows().find((r) => r.querySelector(".who")?.textContent === name)?.dataset.alertId,
    rowState: ([id, state]) => () => row(id)?.dataset.state === state,
    rowGone: (id) => () => !row(id),
    countSum: (n) => () => B.countSum() === n,
  };
  B.countSum = () => rows().reduce((s, r) => s + count(r), 0);
  B.when = (check) => new Promise((resolve) => {
    const hit = () => {
      const value = check();
      if (value === undefined || value === false) return false;
      requestAnimationFrame(() => resolve({ epoch: Date.now(), sinceNav: performance.now(), value }));
      return true;
    };
    if (hit()) return;
    const observer = new MutationObserver(() => { if (hit()) observer.disconnect(); });
    observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  B.arm = (key, kind, arg) => {
    delete B.results[key];
    B.armed[key] = B.when(CHECKS[kind](arg)).then((r) => (B.results[key] = r));
  };
  // Resolve on the first frame after the console's feed (the same module instance) has had n changes.
  B.armFeed = async (key, n) => {
    delete B.results[key];
    const { feed } = await import("/console/js/live.js");
    let seen = 0;
    B.armed[key] = new Promise((resolve) => {
      const off = feed.subscribe(() => {
        if (++seen < n) return;
        off();
        requestAnimationFrame(() => resolve({ epoch: Date.now(), sinceNav: performance.now() }));
      });
    }).then((r) => (B.results[key] = r));
  };
  const expect = localStorage.getItem("bench.expect");
  if (expect) B.arm("load", ...JSON.parse(expect));
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) B.longtasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: true });
  addEventListener("click", (e) => B.clickDelays.push(performance.now() - e.timeStamp), true);
})();
"""


# -- the registry ---------------------------------------------------------------------------------

@dataclass
class Layout:
    """Who presses which button, and how many rooms and devices the floor page must show."""

    csv: str
    buttons: list[str]  # z2m names of the residents' SOS buttons, resident i presses buttons[i]
    extra_button: str
    extra_resident: str
    rooms: int
    devices: int


def layout(alerts: int, devices: int) -> Layout:
    """Return the device CSV: `alerts` residents with a button each, one more resident, the rest other kinds."""
    others = devices - alerts - 1
    if others < 0:
        raise SystemExit(f"--devices {devices} must be more than --alerts {alerts}")
    rows = ["site,building,room,resident,kind,vendor,model,profile,z2m_name,native_id,supervision_s,name"]
    buttons = []

    def room_of(i: int) -> tuple[str, str, str]:
        j = i // SITES
        k = j // 2
        return f"Bench Site {i % SITES + 1}", "AB"[j % 2], f"{1 + k // 20}{1 + k % 20:02d}"

    # A day of supervision: nothing here reports, and offline alerts must not join the timed windows.
    for i in range(alerts):
        site, building, room = room_of(i)
        name = f"bench/r{i + 1:04d}/sos"
        buttons.append(name)
        rows.append(f"{site},{building},{room},Resident {i + 1:04d},sos_button,TuYa,TS0215A_sos,zigbee2mqtt,{name},,"
                    f"86400,SOS {i + 1:04d}")
    for n in range(others):
        i = n % alerts
        site, building, room = room_of(i)
        kind, vendor, model, profile = OTHER_KINDS[(n // alerts) % len(OTHER_KINDS)]
        ident = f"bench-r{i + 1:04d}-{kind}-{n}"
        z2m, native = (f"bench/r{i + 1:04d}/{kind}-{n}", "") if profile == "zigbee2mqtt" else ("", ident)
        rows.append(f"{site},{building},{room},,{kind},{vendor},{model},{profile},{z2m},{native},86400,"
                    f"{kind} {i + 1:04d}-{n}")
    extra_resident = f"Resident {alerts + 1:04d}"
    extra_button = f"bench/r{alerts + 1:04d}/sos"
    rows.append(f"Bench Site 1,C,001,{extra_resident},sos_button,TuYa,TS0215A_sos,zigbee2mqtt,{extra_button},,86400,"
                f"SOS {alerts + 1:04d}")
    return Layout("\n".join(rows) + "\n", buttons, extra_button, extra_resident, rooms=alerts + 1, devices=devices)


# -- the buttons ----------------------------------------------------------------------------------

class Buttons:
    """One paho client that presses Zigbee2MQTT SOS buttons (QoS 1: an SOS must survive a reconnect)."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=f"bench-console-{uuid.uuid4().hex[:8]}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.pending: list = []

    def press(self, name: str) -> float:
        """Publish one press; return the epoch ms just before publishing."""
        started = time.time() * 1000
        self.pending.append(self.client.publish(f"zigbee2mqtt/{name}", SOS_PAYLOAD, qos=1))
        return started

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until the broker acknowledged every press so far."""
        for info in self.pending:
            info.wait_for_publish(timeout)
        self.pending.clear()

    def close(self) -> None:
        """Disconnect."""
        self.settle()
        self.client.disconnect()
        self.client.loop_stop()


# -- the browser ----------------------------------------------------------------------------------

@dataclass
class Burst:
    """One burst of alert changes: until all showed, long tasks meanwhile, and how clicks fared."""

    shown_ms: float = float("nan")
    longtasks: list[float] = field(default_factory=list)
    click_delay_ms: list[float] = field(default_factory=list)
    roundtrip_ms: list[float] = field(default_factory=list)


class Console:
    """A signed-in duty operator's browser context at one viewport."""

    def __init__(self, browser, url: str, viewport: tuple[int, int]) -> None:
        self.url = url
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self.context.add_init_script(PAGE_PROBE)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Performance.enable")
        self.page.goto(f"{url}/console/")
        self.page.fill('input[name="username"]', "duty")
        self.page.fill('input[name="password"]', PASSWORD)
        self.page.click('button[type="submit"]')
        self.page.wait_for_selector("#top nav")

    def load(self, path: str, kind: str, arg) -> float:
        """Open `path` afresh; return ms from navigation start to the first frame where `kind(arg)` holds."""
        self.page.evaluate("e => localStorage.setItem('bench.expect', e)", json.dumps([kind, arg]))
        self.page.goto(f"{self.url}{path}")
        result = self.page.evaluate("() => window.__bench.armed.load")
        self.page.evaluate("() => localStorage.removeItem('bench.expect')")
        return result["sinceNav"]

    def arm(self, key: str, kind: str, arg) -> None:
        """Start watching for `kind(arg)` without waiting."""
        self.page.evaluate("([k, kind, arg]) => window.__bench.arm(k, kind, arg)", [key, kind, arg])

    def result(self, key: str) -> dict:
        """Wait for an armed watch; return {epoch, sinceNav, value}."""
        return self.page.evaluate("k => window.__bench.armed[k]", key)

    def busy_share(self, seconds: float) -> float:
        """Return the share of `seconds` that the renderer's main thread spent running tasks."""
        def task_s() -> float:
            metrics = self.cdp.send("Performance.getMetrics")["metrics"]
            return next(m["value"] for m in metrics if m["name"] == "TaskDuration")

        before, c = task_s(), time.perf_counter()
        time.sleep(seconds)
        return (task_s() - before) / (time.perf_counter() - c)

    def burst(self, buttons: Buttons, names: list[str], key: str, click_at: str) -> Burst:
        """Press `names` at once; click `click_at` every 50 ms until watch `key` (armed by the caller) fires."""
        page = self.page
        b = Burst()
        mark = page.evaluate("() => { window.__bench.clickDelays = []; return performance.now(); }")
        box = page.locator(click_at).first.bounding_box()
        t0 = time.time() * 1000
        for name in names:
            buttons.press(name)
        deadline = time.monotonic() + 120
        while True:
            # A busy page answers neither the click nor the check: time both.
            c = time.perf_counter()
            page.mouse.click(box["x"] + 5, box["y"] + 5)
            finished = page.evaluate("k => k in window.__bench.results", key)
            b.roundtrip_ms.append((time.perf_counter() - c) * 1000)
            if finished:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"burst {key} never showed")
            time.sleep(0.05)
        done = self.result(key)
        b.shown_ms = done["epoch"] - t0
        b.longtasks = page.evaluate(
            "([a, b]) => window.__bench.longtasks.filter(([s]) => s >= a && s <= b).map(([, d]) => d)",
            [mark, done["sinceNav"]])
        b.click_delay_ms = page.evaluate("() => window.__bench.clickDelays")
        buttons.settle()
        return b

    def close(self) -> None:
        """Close the context; fail on any script error the console raised."""
        self.context.close()
        if self.errors:
            raise RuntimeError(f"script errors in the console: {self.errors}")


# -- measurements ---------------------------------------------------------------------------------

@dataclass
class Figures:
    """What one viewport measured with one queue size."""

    open_alerts: int
    load_ms: list[float] = field(default_factory=list)
    dom_elements: int = 0
    idle_busy: float = float("nan")
    press_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    resolve_ms: list[float] = field(default_factory=list)
    burst: Burst = field(default_factory=Burst)
    floor_ms: list[float] = field(default_factory=list)
    floor_burst: Burst = field(default_factory=Burst)


def measure(console: Console, hub, buttons: Buttons, lay: Layout, *, open_alerts: int, burst: list[str],
            repeats: int) -> Figures:
    """Measure load, press/ack/resolve latency, a burst and the floor page with `open_alerts` open."""
    page, api = console.page, hub.api
    f = Figures(open_alerts)
    for _ in range(LOADS):
        f.load_ms.append(console.load("/console/alerts", "queue", open_alerts))
    f.dom_elements = page.evaluate("() => document.getElementsByTagName('*').length")
    f.idle_busy = console.busy_share(2.0)

    for _ in range(repeats):
        console.arm("press", "rowFor", lay.extra_resident)
        t0 = buttons.press(lay.extra_button)
        got = console.result("press")
        f.press_ms.append(got["epoch"] - t0)
        alert_id = int(got["value"])
        console.arm("ack", "rowState", [alert_id, "acknowledged"])
        t0 = time.time() * 1000
        api.post(f"/api/alerts/{alert_id}/acknowledge").raise_for_status()
        f.ack_ms.append(console.result("ack")["epoch"] - t0)
        console.arm("gone", "rowGone", alert_id)
        t0 = time.time() * 1000
        api.post(f"/api/alerts/{alert_id}/resolve", json={"outcome": "test", "note": "bench"}).raise_for_status()
        f.resolve_ms.append(console.result("gone")["epoch"] - t0)
    buttons.settle()

    console.arm("burst", "countSum", page.evaluate("() => window.__bench.countSum()") + len(burst))
    f.burst = console.burst(buttons, burst, "burst", ".pane-head h2")

    for _ in range(2):
        f.floor_ms.append(console.load("/console/floor", "floor", lay.devices))
    page.evaluate("([k, n]) => window.__bench.armFeed(k, n)", ["floor-burst", len(burst)])
    f.floor_burst = console.burst(buttons, burst, "floor-burst", ".page-head h2")
    return f


def wait_open(hub, n: int, timeout: float = 180.0) -> None:
    """Wait until the hub's queue holds exactly `n` open alerts."""
    deadline = time.monotonic() + timeout
    while True:
        got = len(hub.api.get("/api/alerts", params={"limit": 5000}).json())
        if got == n:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{got} open alerts, expected {n}")
        time.sleep(0.2)


# -- the report -----------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    """Return the q-th percentile (nearest rank) of values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def spread(values: list[float]) -> str:
    """Return "p50 / p95 / max" in ms."""
    return f"{pct(values, 50):.0f} / {pct(values, 95):.0f} / {max(values):.0f}"


def ratio(a: float, b: float) -> str:
    """Return a/b as "×r"."""
    return f"×{a / b:.2f}" if b else "—"


def report(viewport: str, base: Figures, full: Figures) -> list[str]:
    """Print one viewport's table (baseline, full, ratio); return the targets it missed."""
    def burst_rows(what: str, b) -> list:
        return [
            (f"{what}: first publish -> all changes shown, ms", lambda f: f"{b(f).shown_ms:.0f}",
             lambda f: b(f).shown_ms),
            (f"{what}: long tasks, count / total ms / max ms",
             lambda f: f"{len(b(f).longtasks)} / {sum(b(f).longtasks):.0f} / {max(b(f).longtasks, default=0):.0f}",
             lambda f: sum(b(f).longtasks)),
            (f"{what}: click input delay, ms p50 / max (clicks)",
             lambda f: f"{pct(b(f).click_delay_ms, 50):.0f} / {max(b(f).click_delay_ms, default=float('nan')):.0f} "
                       f"({len(b(f).click_delay_ms)})",
             lambda f: max(b(f).click_delay_ms, default=float("nan"))),
            (f"{what}: longest Playwright round trip (click + check), ms",
             lambda f: f"{max(b(f).roundtrip_ms, default=0):.0f}", lambda f: max(b(f).roundtrip_ms, default=0)),
        ]

    rows = [
        ("page load: navigation -> all rows + counter, ms (median / max of 3)",
         lambda f: f"{statistics.median(f.load_ms):.0f} / {max(f.load_ms):.0f}",
         lambda f: statistics.median(f.load_ms)),
        ("elements in the duty-room page", lambda f: f"{f.dom_elements:,}", lambda f: f.dom_elements),
        ("idle 2 s: renderer main thread busy, %", lambda f: f"{f.idle_busy * 100:.0f}", lambda f: f.idle_busy),
        ("SOS publish -> row shown, ms p50 / p95 / max", lambda f: spread(f.press_ms), lambda f: pct(f.press_ms, 50)),
        ("API acknowledge -> row state shown, ms p50 / p95 / max", lambda f: spread(f.ack_ms),
         lambda f: pct(f.ack_ms, 50)),
        ("API resolve -> row gone, ms p50 / p95 / max", lambda f: spread(f.resolve_ms),
         lambda f: pct(f.resolve_ms, 50)),
        *burst_rows("duty-room burst", lambda f: f.burst),
        ("floor page: navigation -> every device listed, ms (median / max of 2)",
         lambda f: f"{statistics.median(f.floor_ms):.0f} / {max(f.floor_ms):.0f}",
         lambda f: statistics.median(f.floor_ms)),
        *burst_rows("floor burst", lambda f: f.floor_burst),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"\n{viewport}: {'':{width - len(viewport) - 2}}{f'{base.open_alerts} open':>22}"
          f"{f'{full.open_alerts} open':>22}{'ratio':>10}")
    for name, cell, key in rows:
        print(f"{name:{width}}{cell(base):>22}{cell(full):>22}{ratio(key(full), key(base)):>10}")
    missed = []
    if max(full.load_ms) > TARGETS["load_ms"]:
        missed.append(f"{viewport} load {max(full.load_ms):.0f} ms")
    worst_update = max(full.press_ms + full.ack_ms + full.resolve_ms)
    if worst_update > TARGETS["update_ms"]:
        missed.append(f"{viewport} update {worst_update:.0f} ms")
    for what, b in (("duty room", full.burst), ("floor", full.floor_burst)):
        if max(b.longtasks, default=0) > TARGETS["longtask_ms"]:
            missed.append(f"{viewport} {what} long task {max(b.longtasks):.0f} ms")
    return missed


# -- main -----------------------------------------------------------------------------------------

def run(args) -> None:
    """Set up the hub and broker, measure both queue sizes at every viewport, print the tables."""
    from playwright.sync_api import sync_playwright

    from tests.hub_process import HubProcess
    from tests.servers import start_mosquitto

    viewports = [tuple(int(x) for x in v.split("x")) for v in args.viewports.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="carehub-bench-console-"))
    broker = hub = buttons = None
    started = time.perf_counter()
    try:
        broker = start_mosquitto(tmp / "mosquitto")
        hub = HubProcess(tmp / "hub", mqtt_port=broker.port, client_id=f"carehub-bench-{uuid.uuid4().hex[:8]}")
        lay = layout(args.alerts, args.devices)
        c = time.perf_counter()
        hub.import_devices(lay.csv)
        import_s = time.perf_counter() - c
        hub.add_user("duty", PASSWORD, "duty_operator")
        hub.start(timeout=60)
        hub.api.put("/api/escalation/policies", json={"name": "bench: duty room only", "steps": [
            {"action": "notify_on_duty"}, {"action": "wait", "seconds": 3600}, {"action": "notify_supervisor"}]},
        ).raise_for_status()
        c = time.perf_counter()
        devices_state = len(hub.api.get("/api/devices/state").json())
        state_ms = (time.perf_counter() - c) * 1000
        print(f"{args.devices:,} devices ({args.alerts + 1} SOS buttons, {args.alerts + 1} rooms in {SITES} sites) "
              f"imported from CSV in {import_s:.1f} s; GET /api/devices/state: {devices_state:,} devices in "
              f"{state_ms:.0f} ms", flush=True)
        buttons = Buttons(broker.port)
        buttons.press(lay.buttons[0])
        buttons.settle()
        wait_open(hub, 1)
        burst_base = [lay.buttons[0]] * args.burst
        burst_full = [lay.buttons[i % args.alerts] for i in range(args.burst)]

        results: dict[str, list[Figures]] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            for open_alerts, burst in ((1, burst_base), (args.alerts, burst_full)):
                if open_alerts > 1:
                    c = time.perf_counter()
                    for name in lay.buttons[1:]:
                        buttons.press(name)
                    buttons.settle()
                    wait_open(hub, open_alerts)
                    print(f"{open_alerts - 1} more SOS presses published and open in the hub in "
                          f"{time.perf_counter() - c:.1f} s", flush=True)
                for w, hgt in viewports:
                    console = Console(browser, hub.url, (w, hgt))
                    try:
                        figures = measure(console, hub, buttons, lay, open_alerts=open_alerts, burst=burst,
                                          repeats=args.repeats)
                    finally:
                        console.close()
                    results.setdefault(f"{w}x{hgt}", []).append(figures)
                    print(f"  {w}x{hgt}, {open_alerts} open: measured", flush=True)
            browser.close()

        print(f"\nCareHub console benchmark: {args.devices:,} devices, burst of {args.burst} alert changes, "
              f"{args.repeats} presses per figure, nproc={os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
        missed = []
        for viewport, (base, full) in results.items():
            missed += report(viewport, base, full)
        verdict = "met" if not missed else "missed: " + "; ".join(missed)
        print(f"\ntargets (load <= {TARGETS['load_ms']:.0f} ms, update <= {TARGETS['update_ms']:.0f} ms, "
              f"long task <= {TARGETS['longtask_ms']:.0f} ms): {verdict}")
        print(f"whole run: {time.perf_counter() - started:.0f} s")
    finally:
        if buttons is not None:
            buttons.close()
        if hub is not None:
            hub.stop()
        if broker is not None:
            broker.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    """Parse the arguments and run."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=500, help="open alerts (residents with an SOS button)")
    ap.add_argument("--devices", type=int, default=5000, help="registered devices in all")
    ap.add_argument("--repeats", type=int, default=20, help="timed presses per queue size and viewport")
    ap.add_argument("--burst", type=int, default=100, help="alert changes in the burst")
    ap.add_argument("--viewports", default="1920x1080,1440x900")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
