"""The simulated population: sites, rooms, residents and their devices, deterministic from a seed.

Default small care home (20 residents, 1 site): each resident has a bedroom with a smoke detector
(Zigbee2MQTT HEIMAN HS1SA, or an NB-IoT detector on CTWing for about a third of the rooms), a native
CareHub wristband and a Zigbee SOS button; about a third also wear a 4G elderly watch. Each site has a
kitchen (two Zigbee smoke detectors, one of them reporting temperature, and an Aqara gas detector),
a lounge smoke detector, and an alarm panel reporting over Contact ID (kitchen heat detector, lounge
pull cord) to one alarm receiver on a serial line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from firmware_sim.wire import make_imei

REGISTRY_COLUMNS = ("site", "building", "room", "resident", "kind", "vendor", "model", "profile",
                    "ieee_address", "z2m_name", "imei", "cid_account", "cid_zone", "native_id",
                    "supervision_s", "name")

# Profile names written to the registry CSV (the wire format a device speaks).
PROFILE_Z2M = "zigbee2mqtt"
PROFILE_CTWING = "ctwing"
PROFILE_WATCH = "watch_json"
PROFILE_NATIVE = "carehub_v1"
PROFILE_CID = "contact_id"

CTWING_PRODUCT_ID = "15602388"
WATCH_TAC = "86506712"
NB_MODULE_TAC = "86813005"
# Zigbee IEEE address prefixes per vendor (their OUIs), completed with random bits.
_IEEE_PREFIX = {"HEIMAN": "0c4314", "Aqara": "54ef44", "Xiaomi": "00158d", "Tuya": "a4c138",
                "Coordinator": "00124b"}

_SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun",
             "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Gao", "Luo")
_GIVEN = ("Fang", "Wei", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yan", "Hua", "Ping", "Gang",
          "Xiuying", "Guilan", "Shulan", "Yulan", "Guihua", "Jianguo", "Zhiqiang", "Dehua", "Baoshan",
          "Fengying", "Cuihua", "Yuzhen", "Shuzhen", "Ming", "Hong", "Chunmei", "Lihua", "Jianhua")


@dataclass(frozen=True, slots=True)
class Timing:
    """Report periods of the simulated devices, in simulated seconds (supervision = 3 periods)."""

    wristband_telemetry_s: float = 60.0
    watch_heartbeat_s: float = 300.0
    watch_vitals_s: float = 300.0
    z2m_report_s: float = 300.0
    ctwing_report_s: float = 600.0
    receiver_heartbeat_s: float = 30.0

    def supervision_s(self, profile: str, kind: str) -> int:
        """Return how long the hub may hear nothing before the device counts as missing."""
        period = {PROFILE_NATIVE: self.wristband_telemetry_s, PROFILE_WATCH: self.watch_heartbeat_s,
                  PROFILE_Z2M: self.z2m_report_s, PROFILE_CTWING: self.ctwing_report_s}.get(profile)
        if kind == "receiver":
            period = self.receiver_heartbeat_s
        return int(3 * period) if period else 0


@dataclass(slots=True)
class Room:
    """A room of a site: `bedroom`, `kitchen` or `lounge`."""

    site: str
    building: str
    number: str
    kind: str


@dataclass(slots=True)
class Resident:
    """A resident, living in one bedroom."""

    index: int
    name: str
    site: str
    room: str
    hr_rest: float
    spo2: float
    wears_watch: bool


@dataclass(slots=True)
class SimDevice:
    """One simulated device and every identifier the hub may know it by."""

    key: str
    kind: str
    profile: str
    vendor: str
    model: str
    site: str
    building: str
    room: str
    name: str
    supervision_s: int
    resident: str = ""
    resident_index: int = -1
    aliases: tuple[str, ...] = ()
    ieee_address: str = ""
    z2m_name: str = ""
    imei: str = ""
    cid_account: str = ""
    cid_zone: str = ""
    native_id: str = ""
    ctwing_product_id: str = ""
    ctwing_device_id: str = ""
    exposes: tuple[str, ...] = ()

    def registry_row(self) -> dict[str, str]:
        """Return this device as a row of the hub's devices CSV."""
        return {"site": self.site, "building": self.building, "room": self.room, "resident": self.resident,
                "kind": self.kind, "vendor": self.vendor, "model": self.model, "profile": self.profile,
                "ieee_address": self.ieee_address, "z2m_name": self.z2m_name, "imei": self.imei,
                "cid_account": self.cid_account, "cid_zone": self.cid_zone, "native_id": self.native_id,
                "supervision_s": str(self.supervision_s) if self.supervision_s else "", "name": self.name}


@dataclass(slots=True)
class CareHome:
    """Sites, rooms, residents and devices of one simulated deployment."""

    sites: list[str]
    rooms: list[Room]
    residents: list[Resident]
    devices: list[SimDevice]
    by_key: dict[str, SimDevice] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_key = {d.key: d for d in self.devices}

    def of_kind(self, kind: str, *, profile: str | None = None) -> list[SimDevice]:
        """Return the devices of a kind (optionally of one profile), in population order."""
        return [d for d in self.devices if d.kind == kind and (profile is None or d.profile == profile)]

    def export_registry_csv(self, path: str | Path) -> Path:
        """Write the devices CSV the hub's importer reads; return its path."""
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=REGISTRY_COLUMNS)
            writer.writeheader()
            for device in self.devices:
                # The serial receiver is configured on the hub (serial_ports), not bound as a device.
                if device.kind != "receiver":
                    writer.writerow(device.registry_row())
        return path


Z2M_MODELS = {
    # model: (vendor, kind, exposes, description)
    "HS1SA": ("HEIMAN", "smoke_detector", ("smoke", "battery_low", "battery", "linkquality"),
              "Smoke detector"),
    "JY-GZ-01AQ": ("Aqara", "smoke_detector",
                   ("smoke", "smoke_density", "smoke_density_dbm", "selftest", "test", "buzzer", "battery",
                    "voltage", "linkquality"), "Smart smoke detector"),
    "JTYJ-GD-01LM/BW": ("Xiaomi", "smoke_detector",
                        ("smoke", "battery_low", "tamper", "battery", "sensitivity", "smoke_density",
                         "selftest", "voltage", "test", "device_temperature", "linkquality"),
                        "MiJia Honeywell smoke detector"),
    "JT-BZ-01AQ/A": ("Aqara", "gas_detector",
                     ("gas", "gas_density", "gas_sensitivity", "selftest", "test", "state", "linkquality"),
                     "Smart natural gas detector"),
    "TS0215A_sos": ("Tuya", "sos_button", ("battery", "voltage", "action", "linkquality"), "SOS button"),
}


class _Ids:
    """Deterministic unique identifiers drawn from one generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def ieee(self, vendor: str) -> str:
        prefix = _IEEE_PREFIX[vendor]
        return self._unique(lambda: "0x" + prefix + "".join(f"{b:02x}" for b in self.rng.bytes(5)))

    def imei(self, tac: str) -> str:
        return self._unique(lambda: make_imei(tac, int(self.rng.integers(0, 1_000_000))))

    def native(self) -> str:
        return self._unique(lambda: "wb" + self.rng.bytes(4).hex())


def build_care_home(*, residents: int = 20, sites: int = 1, seed: int = 1, timing: Timing | None = None,
                    ctwing_fraction: float = 0.3, watch_fraction: float = 0.35) -> CareHome:
    """Build the population deterministically from `seed`."""
    if residents < 1 or sites < 1:
        raise ValueError("need at least one resident and one site")
    timing = timing or Timing()
    rng = np.random.default_rng([seed, 0xCA2E])
    ids = _Ids(rng)
    site_names = [f"site{s + 1}" for s in range(sites)]
    rooms: list[Room] = []
    people: list[Resident] = []
    devices: list[SimDevice] = []
    names = _resident_names(rng, residents)

    def z2m(model: str, site: str, building: str, room: str, slot: str, *, resident: Resident | None = None,
            label: str) -> None:
        vendor, kind, exposes, _ = Z2M_MODELS[model]
        ieee = ids.ieee(vendor)
        fname = f"{site}/{room if not room.isdigit() else 'room' + room}/{slot}"
        devices.append(SimDevice(
            key=f"z2m:{fname}", aliases=(f"ieee:{ieee}",), kind=kind, profile=PROFILE_Z2M, vendor=vendor,
            model=model, site=site, building=building, room=room, name=label,
            supervision_s=timing.supervision_s(PROFILE_Z2M, kind), ieee_address=ieee, z2m_name=fname,
            exposes=exposes, resident=resident.name if resident else "",
            resident_index=resident.index if resident else -1))

    per_site = np.array_split(np.arange(residents), sites)
    for s, site in enumerate(site_names):
        building = "A"
        for k, i in enumerate(per_site[s]):
            i = int(i)
            number = f"{(k // 20 + 1) * 100 + k % 20 + 1}"
            rooms.append(Room(site, building, number, "bedroom"))
            person = Resident(index=i, name=names[i], site=site, room=number,
                              hr_rest=float(rng.uniform(62, 80)), spo2=float(rng.uniform(95.5, 98.5)),
                              wears_watch=bool(rng.random() < watch_fraction))
            people.append(person)
            native_id = ids.native()
            devices.append(SimDevice(
                key=f"ch:{native_id}", kind="wristband", profile=PROFILE_NATIVE, vendor="CareHub",
                model="CH-WB1", site=site, building=building, room=number, name=f"Wristband {person.name}",
                supervision_s=timing.supervision_s(PROFILE_NATIVE, "wristband"), native_id=native_id,
                resident=person.name, resident_index=i))
            z2m("TS0215A_sos", site, building, number, "sos", resident=person,
                label=f"SOS button room {number}")
            if person.wears_watch:
                imei = ids.imei(WATCH_TAC)
                devices.append(SimDevice(
                    key=f"imei:{imei}", kind="watch", profile=PROFILE_WATCH, vendor="Wonlex", model="GW700",
                    site=site, building=building, room=number, name=f"Watch {person.name}",
                    supervision_s=timing.supervision_s(PROFILE_WATCH, "watch"), imei=imei,
                    resident=person.name, resident_index=i))
            if rng.random() < ctwing_fraction:
                imei = ids.imei(NB_MODULE_TAC)
                devices.append(SimDevice(
                    key=f"imei:{imei}", kind="smoke_detector", profile=PROFILE_CTWING, vendor="Forsafe",
                    model="NB-YG01", site=site, building=building, room=number,
                    name=f"NB smoke detector room {number}",
                    supervision_s=timing.supervision_s(PROFILE_CTWING, "smoke_detector"), imei=imei,
                    ctwing_product_id=CTWING_PRODUCT_ID, ctwing_device_id=CTWING_PRODUCT_ID + imei))
            else:
                z2m("HS1SA", site, building, number, "smoke", label=f"Smoke detector room {number}")
        rooms += [Room(site, building, "kitchen", "kitchen"), Room(site, building, "lounge", "lounge")]
        z2m("JY-GZ-01AQ", site, building, "kitchen", "smoke", label="Kitchen smoke detector")
        z2m("JTYJ-GD-01LM/BW", site, building, "kitchen", "smoke2", label="Kitchen smoke/heat detector")
        z2m("JT-BZ-01AQ/A", site, building, "kitchen", "gas", label="Kitchen gas detector")
        z2m("HS1SA", site, building, "lounge", "smoke", label="Lounge smoke detector")
        account = f"{1200 + s + 1:04d}"
        for zone, kind, room, label in ((1, "heat_detector", "kitchen", "Kitchen heat detector (panel)"),
                                        (2, "sos_button", "lounge", "Lounge pull cord (panel)")):
            devices.append(SimDevice(
                key=f"cid:{account}:{zone:03d}", kind=kind, profile=PROFILE_CID, vendor="Generic",
                model="Contact ID zone", site=site, building=building, room=room, name=label,
                supervision_s=0, cid_account=account, cid_zone=f"{zone:03d}"))
    devices.append(SimDevice(
        key="cid:receiver", kind="receiver", profile=PROFILE_CID, vendor="Sur-Gard", model="MLR2",
        site=site_names[0], building="A", room="", name="Alarm receiver (serial)",
        supervision_s=timing.supervision_s(PROFILE_CID, "receiver")))
    return CareHome(site_names, rooms, people, devices)


def _resident_names(rng: np.random.Generator, n: int) -> list[str]:
    """Return n distinct resident names (numbered when the name pool runs out)."""
    pool = [f"{s} {g}" for s in _SURNAMES for g in _GIVEN]
    order = rng.permutation(len(pool))
    return [pool[order[i % len(pool)]] + (f" {i // len(pool) + 1}" if i >= len(pool) else "")
            for i in range(n)]
