// Resident page: card, vitals and activity charts (24 h), devices with battery and last seen, recent alerts.

import { api } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { fmtTime, h, replace } from "../dom.js";
import { label, t } from "../i18n.js";
import { registry, roomLabel } from "../registry.js";
import { deviceCondition } from "./floor.js";

const DAY_S = 86_400;
const WORN = new Set(["wristband", "watch"]);

/** Render the resident list, or one resident with /residents/{id}. */
export async function render(main, ctx) {
  const reg = await registry({ force: true });
  if (!ctx.alive()) return;
  const id = ctx.params[0] ? Number(ctx.params[0]) : null;
  if (id === null) {
    const rows = [...reg.residents.values()].sort((a, b) => a.name.localeCompare(b.name));
    main.append(h("header.page-head", h("h2", t("residentsList"))),
      h("ul.resident-list", rows.map((r) => h("li", h("a", { href: `/console/residents/${r.id}` }, r.name),
        h("span.muted", ` · ${roomLabel(reg, r.room_id, r.site_id)} · ${label("living", r.living_situation)}`)))));
    return;
  }
  const [resident, devices, alerts] = await Promise.all([
    api(`/api/residents/${id}`),
    api("/api/devices/state").then((all) => all.filter((d) => d.resident_id === id)),
    api("/api/alerts?state=new&state=acknowledged&state=dispatched&state=resolved&state=closed&limit=2000")
      .then((all) => all.filter((a) => a.resident_id === id).sort((a, b) => b.created_at - a.created_at).slice(0, 20)),
  ]);
  if (!ctx.alive()) return;
  const hr = h("div.chart#chart-hr");
  const spo2 = h("div.chart#chart-spo2");
  const steps = h("div.chart#chart-steps");
  main.append(
    h("header.page-head", h("h2", resident.name),
      h("span.muted", [resident.age ? `${resident.age} ${t("age_years")}` : null, roomLabel(reg, resident.room_id, resident.site_id),
        label("living", resident.living_situation)].filter(Boolean).join(" · "))),
    h("div.resident-grid",
      h("section.card", h("h3", `${t("heartRate")} · ${t("last24h")}`), hr),
      h("section.card", h("h3", `${t("spo2")} · ${t("last24h")}`), spo2),
      h("section.card", h("h3", `${t("stepsByHour")} · ${t("last24h")}`), steps),
      h("section.card#resident-devices", h("h3", t("devices")), deviceTable(devices)),
      h("section.card", h("h3", t("recentAlerts")), alerts.length ? h("ul.plain", alerts.map((a) => h("li",
        h("a", { href: `/console/alerts/${a.id}` }, `P${a.priority} ${label("type", a.type)}`),
        ` · ${fmtTime(a.created_at, { full: true })} · ${label("state", a.state)}`,
        a.outcome ? ` · ${label("outcome", a.outcome)}` : ""))) : h("p.muted", t("nothing")))));
  const worn = devices.filter((d) => WORN.has(d.kind)).map((d) => d.device_key);
  const since = Date.now() / 1000 - DAY_S;
  const history = async (metric) => {
    const out = [];
    for (const key of worn) {
      try {
        const q = new URLSearchParams({ device_key: key, metric, since: String(since), limit: "5000" });
        const { points } = await api(`/api/readings/history?${q}`);
        if (points.length) out.push({ name: devices.find((d) => d.device_key === key)?.name || key, points });
      } catch { /* history held by InfluxDB: see Grafana */ }
    }
    return out;
  };
  const [hrSeries, spo2Series, stepSeries] = await Promise.all([history("heart_rate"), history("spo2"), history("steps")]);
  if (!ctx.alive()) return;
  const line = (el, series, yName) => {
    if (!series.length) return replace(el, h("p.muted", t("noData")));
    lineChart(el, { yName, series: series.map((s) => ({ name: s.name, points: s.points.map((p) => [p.ts * 1000, p.value]) })) });
  };
  line(hr, hrSeries, "bpm");
  line(spo2, spo2Series, "%");
  if (!stepSeries.length) replace(steps, h("p.muted", t("noData")));
  else {
    const { categories, values } = stepsByHour(stepSeries, since);
    barChart(steps, { categories, bars: [{ name: t("stepsByHour"), values }] });
  }
}

/**
 * Return steps per local hour for the last 24 h. A counter that only grows (a day total) counts its increases;
 * anything else is taken as steps per report and summed.
 */
export function stepsByHour(seriesList, since) {
  const start = Math.floor(since / 3600) * 3600;
  const values = new Array(25).fill(0);
  for (const { points } of seriesList) {
    const cumulative = points.length > 2 && points.every((p, i) => i === 0 || p.value >= points[i - 1].value
      || p.value < points[i - 1].value * 0.1); // a reset at midnight keeps it a counter
    points.forEach((p, i) => {
      const slot = Math.floor((p.ts - start) / 3600);
      if (slot < 0 || slot > 24) return;
      const add = !cumulative ? p.value : i === 0 ? 0 : p.value >= points[i - 1].value ? p.value - points[i - 1].value : p.value;
      values[slot] += add;
    });
  }
  const categories = values.map((_, i) => `${String(new Date((start + i * 3600) * 1000).getHours()).padStart(2, "0")}:00`);
  return { categories, values: values.map((v) => Math.round(v)) };
}

function deviceTable(devices) {
  if (!devices.length) return h("p.muted", t("nothing"));
  return h("div.table-wrap", h("table",
    h("thead", h("tr", [t("device"), t("status"), t("battery"), t("lastSeen")].map((c) => h("th", c)))),
    h("tbody", devices.map((d) => {
      const c = deviceCondition(d);
      return h("tr", { class: `cond-${c}` }, h("td", h("b", label("kind", d.kind)), h("div.muted", d.name)),
        h("td", h(`span.dot.${c}`), " ", label("availability", d.availability || "unknown"),
          d.battery_low ? ` · ${t("batteryLow")}` : "", d.alarms?.length ? ` · ${t("alarm")}` : ""),
        h("td", d.battery != null ? `${Math.round(d.battery)}%` : "—"), h("td", fmtTime(d.last_seen)));
    }))));
}
