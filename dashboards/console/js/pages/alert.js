// One alert: resident card, actions, evidence, notes and history, notifications with their delivery state.

import { api, ApiError, can } from "../api.js";
import { lineChart } from "../charts.js";
import { ageEl, dueEl, fmtTime, formData, h, replace } from "../dom.js";
import { label, t } from "../i18n.js";
import { feed } from "../live.js";
import { residentName, roomLabel } from "../registry.js";

const OUTCOMES = ["genuine", "false_alarm", "resident_ok_by_phone", "test", "duplicate"];
const FALLS = new Set(["fall", "fall_suspected"]);
const SENSOR_TYPES = new Set(["fire", "fire_suspected", "smoke", "heat", "gas", "gas_prealarm", "co", "vitals"]);
// Radio and power figures say nothing about the emergency itself.
const NOT_EVIDENCE = new Set(["battery", "linkquality", "voltage", "rssi", "rsrp", "snr", "gsm_signal",
  "gps_satellites"]);

/** Render alert `id` into `pane`, and keep it current while the page is open. */
export async function renderAlert(pane, id, ctx, reg) {
  let alert;
  try {
    alert = await api(`/api/alerts/${id}`);
  } catch (err) {
    replace(pane, h("p.error", err.status === 404 ? t("notFound") : `${t("failed")}: ${err.message}`));
    return;
  }
  if (!ctx.alive()) return;
  const parts = {
    head: h("header.alert-head"),
    resident: h("section.card.resident-card"),
    actions: h("section.card.actions", { id: "alert-actions" }),
    evidence: h("section.card.evidence"),
    history: h("section.card.history"),
    notifications: h("section.card.notifications"),
  };
  replace(pane, h("a.back", { href: "/console/alerts" }, `← ${t("back")}`), parts.head,
    h("div.detail-grid", parts.resident, parts.actions, parts.evidence, parts.history, parts.notifications));

  let drawnState = null;
  const draw = () => {
    drawHead(parts.head, alert, reg);
    drawResident(parts.resident, alert, reg);
    // Forms are redrawn only when the state changes, so an operator's half-typed note survives updates.
    if (drawnState !== alert.state) {
      drawActions(parts.actions, alert, reload);
      drawnState = alert.state;
    }
    drawHistory(parts.history, alert, reload);
  };
  const reload = async () => {
    try {
      alert = await api(`/api/alerts/${id}`);
    } catch {
      return;
    }
    if (!ctx.alive()) return;
    draw();
    drawNotifications(parts.notifications, id);
  };
  draw();
  drawNotifications(parts.notifications, id);
  drawEvidence(parts.evidence, alert).catch((err) => replace(parts.evidence, h("h3", t("evidence")),
    h("p.error", err.message)));

  let timer = 0;
  ctx.onCleanup(feed.subscribe(({ alert: changed }) => {
    if (changed?.id !== id) return;
    clearTimeout(timer);
    timer = setTimeout(reload, 250);
  }));
  ctx.onCleanup(() => clearTimeout(timer));
  // Notifications change without an alert event (deliveries, retries): look again now and then.
  const poll = setInterval(() => drawNotifications(parts.notifications, id), 10_000);
  ctx.onCleanup(() => clearInterval(poll));
}

function drawHead(el, a, reg) {
  replace(el,
    h("h2", h(`span.pill.p${a.priority}`, `P${a.priority}`), " ", label("type", a.type),
      a.count > 1 ? h("span.count", ` ×${a.count}`) : null),
    h("dl.facts",
      h("dt", t("state")), h("dd", { id: "alert-state", dataset: { state: a.state } }, label("state", a.state)),
      h("dt", t("resident")), h("dd", residentName(reg, a.resident_id, a.subject)),
      h("dt", t("room")), h("dd", roomLabel(reg, a.room_id, a.site_id)),
      h("dt", t("time")), h("dd", fmtTime(a.created_at, { full: true })),
      a.state === "new" ? [h("dt", t("age")), h("dd", ageEl(a.created_at))] : null,
      a.responder ? [h("dt", t("responder")), h("dd", a.responder)] : null,
      a.state === "dispatched" && a.arrival_due_at && !a.arrived_at
        ? [h("dt", t("arrivalDue")), h("dd", dueEl(a.arrival_due_at))] : null,
      a.arrived_at ? [h("dt", t("arrived")), h("dd", fmtTime(a.arrived_at))] : null,
      a.outcome ? [h("dt", t("outcome")), h("dd", label("outcome", a.outcome))] : null,
      a.device_key ? [h("dt", t("device")), h("dd.mono", a.device_key)] : null));
}

function drawResident(el, a, reg) {
  const r = a.resident;
  if (!r) {
    replace(el, h("h3", t("resident")), h("p.muted", a.subject));
    return;
  }
  const tel = (phone) => (phone ? h("a.tel", { href: `tel:${phone.replace(/[^\d+]/g, "")}` }, `☎ ${phone}`) : "—");
  const masked = r.medical_notes === "***";
  replace(el,
    h("h3", t("resident")),
    h("p.name", can("registry:read") ? h("a", { href: `/console/residents/${r.id}` }, r.name) : r.name,
      r.age ? h("span.muted", ` · ${r.age} ${t("age_years")}`) : null),
    h("dl.facts",
      h("dt", t("room")), h("dd", roomLabel(reg, r.room_id, r.site_id)),
      h("dt", t("livingAlone")), h("dd", label("living", r.living_situation)),
      h("dt", t("phone")), h("dd", tel(r.phone)),
      h("dt", t("medicalNotes")),
      h("dd.medical", masked ? h("span.muted", t("masked")) : r.medical_notes || t("none"))),
    h("h4", t("contacts")),
    r.contacts.length ? h("ul.contacts", r.contacts.map((c) => h("li",
      h("span", c.name, c.relation ? h("span.muted", ` (${c.relation})`) : null), " ", tel(c.phone))))
      : h("p.muted", t("none")));
}

function drawActions(el, a, reload) {
  replace(el, h("h3", t("actions")));
  if (!can("alerts:act")) return;
  const message = h("p.message", { role: "status", "aria-live": "polite" });
  const act = (path, body) => async (event) => {
    event?.preventDefault();
    const form = event?.target?.closest?.("form");
    if (form && !form.reportValidity()) return;
    el.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    message.textContent = "";
    try {
      await api(`/api/alerts/${a.id}/${path}`, { method: "POST", json: body ? body() : undefined });
      await reload();
    } catch (err) {
      message.textContent = err instanceof ApiError && err.status === 403 ? t("forbidden") : `${t("failed")}: ${err.message}`;
      el.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  };
  const open = ["new", "acknowledged", "dispatched"].includes(a.state);
  if (a.state === "new") {
    el.append(h("button.primary.big", { type: "button", id: "btn-acknowledge", onclick: act("acknowledge") },
      t("acknowledge")));
  }
  if (a.state === "dispatched" && !a.arrived_at) {
    el.append(h("button.big", { type: "button", id: "btn-arrive", onclick: act("arrive") }, t("arrive")));
  }
  if (open) {
    const dispatchForm = h("form.inline#dispatch-form", {},
      h("label", t("responder"), h("input", { name: "responder", required: true, maxlength: 200,
        list: "responders", autocomplete: "off" })),
      h("datalist#responders"),
      h("label", t("note"), h("input", { name: "note", maxlength: 4000 })),
      h("button", { type: "submit" }, a.state === "dispatched" ? t("reassign") : t("dispatch")));
    dispatchForm.addEventListener("submit", act("dispatch", () => formData(dispatchForm)));
    fillResponders(dispatchForm.querySelector("datalist"));
    const resolveForm = h("form.inline#resolve-form", {},
      h("label", t("outcome"), h("select", { name: "outcome", required: true },
        OUTCOMES.map((o) => h("option", { value: o }, label("outcome", o))))),
      h("label", t("note"), h("textarea", { name: "note", rows: 2, maxlength: 4000, required: a.priority === 1,
        placeholder: a.priority === 1 ? t("noteRequiredP1") : "" })),
      h("button", { type: "submit" }, t("resolve")));
    resolveForm.addEventListener("submit", act("resolve", () => formData(resolveForm)));
    el.append(dispatchForm, resolveForm);
  }
  if (a.state === "resolved") {
    el.append(h("button", { type: "button", id: "btn-close", onclick: act("close") }, t("close")));
  }
  el.append(message);
}

async function fillResponders(datalist) {
  // The on-duty roster first, then every active staff member; a free-typed name is accepted too.
  const names = new Set();
  try {
    for (const s of await api("/api/duty/on-duty")) names.add(s.name);
  } catch { /* roster not readable: staff list only */ }
  try {
    for (const s of await api("/api/staff")) if (s.active !== false) names.add(s.name);
  } catch { /* nothing to suggest */ }
  datalist.replaceChildren(...[...names].map((n) => h("option", { value: n })));
}

function describe(detail) {
  if (!detail || typeof detail !== "object") return detail ? String(detail) : "";
  return Object.entries(detail)
    .filter(([, v]) => v !== null && v !== "" && typeof v !== "object")
    .map(([k, v]) => `${k}: ${v}`).join(" · ");
}

function drawHistory(el, a, reload) {
  const noteForm = h("form.inline#note-form", {},
    h("label", t("note"), h("textarea", { name: "note", rows: 2, required: true, maxlength: 4000 })),
    h("button", { type: "submit" }, t("addNote")));
  noteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    await api(`/api/alerts/${a.id}/notes`, { method: "POST", json: formData(noteForm) });
    noteForm.reset();
    reload();
  });
  const keep = el.querySelector("#note-form");
  replace(el, h("h3", t("history")),
    h("ol.timeline", a.history.map((e) => h("li",
      h("time", fmtTime(e.at)), " ", h("b", label("audit", e.action)), " ", h("span.muted", e.actor),
      describe(e.detail) ? h("div.detail", describe(e.detail)) : null))),
    can("alerts:act") && !["closed"].includes(a.state) ? keep || noteForm : null);
}

async function drawNotifications(el, id) {
  let rows;
  try {
    rows = await api(`/api/alerts/${id}/notifications`);
  } catch {
    return;
  }
  replace(el, h("h3", t("notifications")), rows.length ? h("div.table-wrap", h("table",
    h("thead", h("tr", [t("time"), t("recipient"), t("channel"), t("title"), t("state"), t("attempts"), t("error")]
      .map((c) => h("th", c)))),
    h("tbody", rows.map((n) => h("tr", { class: `delivery-${n.state}` },
      h("td", fmtTime(n.created_at)), h("td", n.recipient_name), h("td", n.channel), h("td", n.title),
      h("td", h("span.badge", label("delivery", n.state)), n.sent_at ? h("span.muted", ` ${fmtTime(n.sent_at)}`) : null),
      h("td", String(n.attempts)), h("td", n.last_error || n.deferred_reason || ""))))))
    : h("p.muted", t("noNotifications")));
}

async function findDetection(a) {
  // The history names the detections that raised and joined the alert; prefer one that carries samples.
  const ids = new Set(a.history.map((e) => e.detail?.detection_id).filter((id) => id != null));
  const rows = await api(`/api/detections?type=${encodeURIComponent(a.type)}&since=${a.first_at - 60}&limit=500`);
  const mine = rows.filter((d) => ids.has(d.id));
  const candidates = mine.length ? mine
    : rows.filter((d) => (a.device_key ? d.device_key === a.device_key : d.subject === a.subject));
  candidates.sort((x, y) => Number(Array.isArray(y.evidence?.magnitude_g)) - Number(Array.isArray(x.evidence?.magnitude_g))
    || Math.abs(x.t - a.first_at) - Math.abs(y.t - a.first_at));
  return candidates[0] || null;
}

async function drawEvidence(el, a) {
  replace(el, h("h3", t("evidence")));
  if (!can("registry:read")) return;
  const det = await findDetection(a);
  const ev = det?.evidence || {};
  if (FALLS.has(a.type) && Array.isArray(ev.magnitude_g)) {
    const box = h("div.chart", { id: "fall-chart", role: "img", "aria-label": t("accel") });
    el.append(box, h("p.muted", `${label("type", a.type)} · ${ev.trigger || ""} · ${(det.confidence * 100).toFixed(0)}%`));
    lineChart(box, {
      yName: "g",
      series: [{ name: t("accel"), points: ev.magnitude_g.map((v, i) => [(ev.t0 + i * ev.dt) * 1000, v]) }],
      marks: [{ at: det.t * 1000, label: t("impact") }],
    });
    return;
  }
  if (SENSOR_TYPES.has(a.type) && await sensorCharts(el, a, ev)) return;
  const facts = Object.entries(ev).filter(([, v]) => v !== null && typeof v !== "object");
  const nested = Object.entries(ev.detail || {}).filter(([, v]) => typeof v !== "object");
  if (!facts.length && !nested.length) {
    el.append(h("p.muted", t("noEvidence")));
    return;
  }
  el.append(h("dl.facts", [...facts, ...nested].map(([k, v]) => [h("dt", k), h("dd", String(v))])));
}

async function sensorCharts(el, a, ev) {
  // The readings around the alarm from the hub's store, per metric, one line per device (a room's fire
  // names its detectors in the evidence); the detection's own copy when history lives in InfluxDB.
  const since = a.first_at - 3600;
  const keys = a.device_key ? [a.device_key] : Object.keys(ev.devices || {}).slice(0, 4);
  const byMetric = new Map();
  const add = (metric, name, points) => {
    if (!byMetric.has(metric)) byMetric.set(metric, []);
    byMetric.get(metric).push({ name, points });
  };
  for (const key of keys) {
    let metrics = [];
    try {
      metrics = Object.keys((await api(`/api/readings/latest?device_key=${encodeURIComponent(key)}`)).readings);
    } catch { /* no live state for this device */ }
    for (const metric of metrics.filter((m) => !NOT_EVIDENCE.has(m) && !m.endsWith("_raw")).slice(0, 3)) {
      try {
        const q = new URLSearchParams({ device_key: key, metric, since: String(since) });
        const { points } = await api(`/api/readings/history?${q}`);
        if (points.length) add(metric, key, points.map((p) => [p.ts * 1000, p.value]));
      } catch { /* history served by InfluxDB */ }
    }
  }
  if (!byMetric.size) {
    const readings = Array.isArray(ev.readings) ? ev.readings
      : Object.values(ev.devices || {}).flatMap((crit) => Object.values(crit).flatMap((c) => c.readings || []));
    for (const r of readings) {
      const list = byMetric.get(r.metric)?.find((s) => s.name === r.device_key);
      if (list) list.points.push([r.ts * 1000, r.value]);
      else add(r.metric, r.device_key, [[r.ts * 1000, r.value]]);
    }
  }
  if (!byMetric.size) return false;
  for (const [metric, series] of byMetric) {
    const box = h("div.chart.small", { role: "img", "aria-label": metric });
    el.append(h("h4", metric), box);
    lineChart(box, { series, marks: [{ at: a.first_at * 1000, label: label("type", a.type) }] });
  }
  return true;
}
