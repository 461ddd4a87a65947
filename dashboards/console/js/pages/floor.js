// Site floor grid: every room with its residents and devices (online, offline, battery, alarm), live.

import { api } from "../api.js";
import { fmtTime, h, replace } from "../dom.js";
import { label, t } from "../i18n.js";
import { feed } from "../live.js";
import { registry } from "../registry.js";

const REFRESH_MS = 10_000;

/** Return the device's worst condition: alarm, offline, battery, fault, unknown or online. */
export function deviceCondition(d) {
  if (d.alarms?.length) return "alarm";
  if (d.availability === "offline") return "offline";
  if (d.battery_low) return "battery";
  if (d.tamper || d.fault) return "fault";
  if (!d.availability || d.availability === "unknown") return "unknown";
  return "online";
}

const CONDITION_TEXT = { alarm: "alarm", offline: "offline", battery: "batteryLow", fault: "fault",
  unknown: "unknown", online: "online" };

/** Render the grid, refreshed every 10 s and on every alert change. */
export async function render(main, ctx) {
  const grid = h("div.floors", { id: "floor-grid" });
  const legend = h("ul.legend", { "aria-label": t("legend") },
    Object.entries(CONDITION_TEXT).map(([c, key]) => h("li", h(`span.dot.${c}`), t(key))));
  main.append(h("header.page-head", h("h2", t("floorTitle")), legend), grid);
  let devices = [];
  let devicesVersion = 0; // bumped by every device reload: each room is redrawn once after it
  let layout = ""; // sites, buildings and rooms in screen order: a change rebuilds the whole grid
  const cards = new Map(); // room key -> {el, sig}: an alert change redraws only the rooms it touches
  const draw = async () => {
    const reg = await registry();
    if (!ctx.alive()) return;
    const alertsByRoom = new Map();
    for (const a of feed.sorted()) {
      if (a.room_id != null && !alertsByRoom.has(a.room_id)) alertsByRoom.set(a.room_id, a);
    }
    const byRoom = new Map();
    for (const d of devices) {
      const key = d.room_id ?? `site-${d.site_id}`;
      if (!byRoom.has(key)) byRoom.set(key, []);
      byRoom.get(key).push(d);
    }
    const residentsByRoom = new Map();
    for (const r of reg.residents.values()) {
      if (!residentsByRoom.has(r.room_id)) residentsByRoom.set(r.room_id, []);
      residentsByRoom.get(r.room_id).push(r);
    }
    const sites = [...reg.sites.values()];
    if (!sites.length) {
      layout = "";
      cards.clear();
      replace(grid, h("p.empty", t("noRooms")));
      return;
    }
    const plan = sites.map((site) => {
      const rooms = [...reg.rooms.values()].filter((r) => r.site_id === site.id);
      const buildings = [...new Set(rooms.map((r) => r.building || ""))].map((b) => ({
        name: b,
        rooms: rooms.filter((r) => (r.building || "") === b)
          .sort((x, y) => x.name.localeCompare(y.name, undefined, { numeric: true })),
      }));
      const loose = byRoom.get(`site-${site.id}`)?.length ? { name: "—", id: null, key: `site-${site.id}` } : null;
      return { site, buildings, loose };
    });
    const card = (room, key) => {
      const alert = alertsByRoom.get(room.id);
      const residents = room.id == null ? [] : residentsByRoom.get(room.id) || [];
      const sig = [devicesVersion, alert ? `${alert.id}:${alert.priority}:${alert.type}` : "",
        residents.map((r) => `${r.id}:${r.name}`).join(",")].join("|");
      const known = cards.get(key);
      if (known && known.sig === sig) return known.el;
      const el = roomCard(room, byRoom.get(room.id ?? key) || [], residents, room.id == null ? null : alert);
      known?.el.replaceWith(el);
      cards.set(key, { el, sig });
      return el;
    };
    const shape = JSON.stringify(plan.map((p) => [p.site.id, p.site.name, p.loose?.key,
      p.buildings.map((b) => [b.name, b.rooms.map((r) => [r.id, r.name])])]));
    if (shape === layout) {
      for (const p of plan) {
        for (const b of p.buildings) for (const room of b.rooms) card(room, room.id);
        if (p.loose) card(p.loose, p.loose.key);
      }
      return;
    }
    layout = shape;
    cards.clear();
    replace(grid, plan.map((p) => h("section.site", h("h3", p.site.name),
      p.buildings.map((b) => h("div.building", b.name ? h("h4", b.name) : null,
        h("div.room-grid", b.rooms.map((room) => card(room, room.id))))),
      p.loose ? h("div.room-grid", card(p.loose, p.loose.key)) : null)));
  };
  const load = async () => {
    try {
      devices = await api("/api/devices/state");
      devicesVersion += 1;
    } catch {
      return; // the banner says the hub is unreachable; keep the last picture
    }
    await draw();
  };
  await load();
  const timer = setInterval(load, REFRESH_MS);
  ctx.onCleanup(() => clearInterval(timer));
  // A burst of alert changes draws once per frame, and a draw rebuilds only the rooms whose alert changed:
  // rebuilding every room with 5,000 devices took 230-390 ms per frame.
  let frame = 0;
  ctx.onCleanup(feed.subscribe(() => { frame = frame || requestAnimationFrame(() => { frame = 0; draw(); }); }));
  ctx.onCleanup(() => cancelAnimationFrame(frame));
}

function roomCard(room, devices, residents, alert) {
  const conditions = devices.map(deviceCondition);
  const worst = alert ? "alarm" : ["alarm", "offline", "fault", "battery", "unknown"].find((c) => conditions.includes(c))
    || "online";
  return h("article.room", { class: `cond-${worst}`, dataset: { roomId: String(room.id ?? "") } },
    h("header", h("b", room.name),
      alert ? h("a.pill", { href: `/console/alerts/${alert.id}`, class: `p${alert.priority}` },
        `P${alert.priority} ${label("type", alert.type)}`) : null),
    residents.map((r) => h("a.resident", { href: `/console/residents/${r.id}` }, r.name)),
    h("ul.devices", devices.map((d) => {
      const c = deviceCondition(d);
      return h("li", { class: `cond-${c}`, title: `${d.name} · ${t(CONDITION_TEXT[c])} · ${t("lastSeen")} ${fmtTime(d.last_seen)}` },
        h(`span.dot.${c}`), h("span", label("kind", d.kind)),
        d.battery != null ? h("span.muted", ` ${Math.round(d.battery)}%`) : null);
    })));
}
