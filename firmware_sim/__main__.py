"""Command line: `python -m firmware_sim --mqtt mqtt://127.0.0.1:1883 --residents 20 --scenario demo`."""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import threading
import time

from firmware_sim import scenarios
from firmware_sim.runner import Simulator


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the simulator command."""
    p = argparse.ArgumentParser(prog="python -m firmware_sim",
                                description="Simulated care-home devices speaking real wire formats.")
    p.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", help="broker URL (mqtt://[user:pass@]host:port)")
    p.add_argument("--residents", type=int, default=20)
    p.add_argument("--sites", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scenario", default="demo", help="scenario name (see --list)")
    p.add_argument("--serial", default=None, help="pty of the Contact ID receiver, e.g. /dev/pts/5")
    p.add_argument("--duration", type=float, default=None,
                   help="wall seconds to run (default: demo/ordinary_day until Ctrl-C, else the incident)")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    p.add_argument("--rate", type=int, default=50, help="wristband acceleration rate, 25..100 Hz")
    p.add_argument("--no-accel", action="store_true", help="do not stream acceleration batches")
    p.add_argument("--export-csv", default=None, help="write the devices CSV for the hub importer and exit")
    p.add_argument("--list", action="store_true", help="list scenarios and exit")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the simulator from the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.list:
        for name, text in scenarios.describe():
            print(f"{name:20s} {text}")
        return 0
    sim = Simulator(None if args.export_csv else args.mqtt, residents=args.residents, sites=args.sites,
                    seed=args.seed, speed=args.speed, serial=args.serial, accel_rate_hz=args.rate,
                    accel=not args.no_accel)
    if args.export_csv:
        print(sim.export_registry_csv(args.export_csv))
        return 0
    if args.scenario not in scenarios.SCENARIOS:
        print(f"unknown scenario {args.scenario!r}; use --list", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        sim.start()
    except (OSError, ConnectionError) as exc:  # serial.SerialException is an OSError too
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    incident = sim.run_scenario(args.scenario)
    duration = args.duration
    if duration is None and incident is not None and math.isfinite(incident.t_end):
        duration = (incident.t_end - sim.now()) / args.speed + 3.0
    print(f"simulating {len(sim.population)} devices for {args.residents} residents on {args.mqtt} "
          f"(scenario {args.scenario}, speed {args.speed}); Ctrl-C to stop", flush=True)
    try:
        done.wait(duration) if duration is not None else done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    stats = sim.stats
    print(f"published {stats['messages']} messages ({stats['bytes']} bytes), {stats['ticks']} ticks, "
          f"{stats['late_ticks']} late; incidents: {len(sim.incidents)}")
    for inc in sim.incidents:
        alarm = time.strftime("%H:%M:%S", time.localtime(inc.t_alarm)) if inc.t_alarm else "-"
        print(f"  {inc.scenario:20s} alarm {alarm}  {', '.join(inc.device_keys)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
