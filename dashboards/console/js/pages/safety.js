// Safety officer: hazard ledger and its lifecycle, the three lists, inspection tasks, overdue items,
// the monthly report with trend charts, and CSV exports.

import { api, can, me } from "../api.js";
import { barChart } from "../charts.js";
import { append, download, dueEl, fmtTime, formData, h, replace } from "../dom.js";
import { label, t } from "../i18n.js";
import { registry, roomLabel } from "../registry.js";

const TABS = ["hazards", "lists", "inspections", "overdue", "monthly"];
const TAB_TEXT = { hazards: "hazards", lists: "threeLists", inspections: "inspections", overdue: "overdue",
  monthly: "monthly" };
const LEVELS = ["red", "orange", "yellow", "blue"];
const CATEGORIES = ["fire", "electricity", "gas", "building", "food", "care", "medicine", "emergency"];
const PRIORITY_COLOURS = { 1: "#c62828", 2: "#ef6c00", 3: "#1565c0" };
const LEVEL_COLOURS = { red: "#c62828", orange: "#ef6c00", yellow: "#f9a825", blue: "#1565c0" };

/** Render the safety page with the tab named in /safety/{tab}. */
export async function render(main, ctx) {
  const tab = TABS.includes(ctx.params[0]) ? ctx.params[0] : "hazards";
  const reg = await registry();
  const body = h("div.tab-body#safety-body");
  main.append(h("header.page-head", h("h2", t("safetyTitle")),
    h("nav.tabs", { role: "tablist" }, TABS.map((name) => h("a", {
      href: `/console/safety/${name}`, role: "tab", class: name === tab ? "active" : "",
      "aria-selected": String(name === tab) }, t(TAB_TEXT[name]))))), body);
  await { hazards, lists, inspections, overdue, monthly }[tab](body, ctx, reg);
}

// -------------------------------------------------------------------------------------------- hazards

async function hazards(body, ctx, reg) {
  const panel = h("aside.card.hz-panel#hz-panel", { hidden: true });
  const table = h("div.table-wrap#hz-table");
  append(body, [can("ledgers:write") ? registerForm(reg, () => load()) : null, h("div.board-wrap", table, panel)]);
  let openId = null;
  const load = async () => {
    const rows = await api("/api/hazards?status=registered&status=rectifying&status=awaiting_reinspection&status=closed");
    if (!ctx.alive()) return;
    replace(table, hazardTable(rows, reg, (id) => { openId = id; showHazard(panel, id, reg, load); }));
    if (openId) showHazard(panel, openId, reg, load);
  };
  await load();
}

function hazardTable(rows, reg, open) {
  if (!rows.length) return h("p.muted", t("nothing"));
  return h("table.hazards",
    h("thead", h("tr", [t("level"), t("title"), t("category"), t("location"), t("status"), t("deadline"), t("responsible"), ""]
      .map((c) => h("th", c)))),
    h("tbody", rows.map((z) => h("tr", { class: `lvl-${z.level} hz-${z.status}`, dataset: { hazardId: String(z.id) } },
      h("td", h(`span.level.${z.level}`, label("hzLevel", z.level))),
      h("td", h("b", z.title), z.major ? h("span.warn", " ★") : null),
      h("td", label("hzCategory", z.category)),
      h("td", z.location || roomLabel(reg, z.room_id, z.site_id)),
      h("td", label("hzStatus", z.status)),
      h("td", ["closed", "archived"].includes(z.status) ? fmtTime(z.closed_at) : dueEl(z.deadline_at)),
      h("td", [z.responsible_person, z.department].filter(Boolean).join(" · ") || "—"),
      h("td", h("button.small", { type: "button", onclick: () => open(z.id) }, t("detail")))))));
}

function registerForm(reg, done) {
  const sites = [...reg.sites.values()];
  const form = h("form.inline.register#hz-register", {},
    h("label", t("site"), h("select", { name: "site_id" }, sites.map((s) => h("option", { value: String(s.id) }, s.name)))),
    h("label", t("category"), h("select", { name: "category" }, CATEGORIES.map((c) => h("option", { value: c }, label("hzCategory", c))))),
    h("label", t("level"), h("select", { name: "level" }, LEVELS.map((l) => h("option", { value: l, selected: l === "yellow" }, label("hzLevel", l))))),
    h("label.grow", t("title"), h("input", { name: "title", required: true, maxlength: 200 })),
    h("label", t("location"), h("input", { name: "location", maxlength: 200 })),
    h("button", { type: "submit" }, t("register")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = formData(form);
    await api("/api/hazards", { method: "POST", json: { ...f, site_id: Number(f.site_id) } });
    form.reset();
    done();
  });
  return h("details.card", h("summary", t("register")), form);
}

async function showHazard(panel, id, reg, reload) {
  const z = await api(`/api/hazards/${id}`);
  const message = h("p.message", { role: "status", "aria-live": "polite" });
  const run = (path, body) => async (event) => {
    event?.preventDefault();
    try {
      await api(`/api/hazards/${id}/${path}`, { method: "POST", json: body ? body() : undefined });
      await reload();
    } catch (err) {
      message.textContent = `${t("failed")}: ${err.message}`;
    }
  };
  const forms = [];
  const write = can("ledgers:write");
  if (write && ["registered", "rectifying"].includes(z.status)) {
    const form = h("form#hz-rectify", {},
      h("label", t("measures"), h("textarea", { name: "measures", required: true, rows: 2 }, z.measures)),
      h("label", t("responsible"), h("input", { name: "responsible_person", required: true, value: z.responsible_person })),
      h("label", t("department"), h("input", { name: "department", value: z.department })),
      h("button", { type: "submit" }, t("rectify")));
    form.addEventListener("submit", run("rectify", () => formData(form)));
    forms.push(form);
  }
  if (write && z.status === "rectifying") {
    const form = h("form#hz-rectified", {},
      h("label", t("note"), h("textarea", { name: "note", required: true, rows: 2 })),
      h("button", { type: "submit" }, t("rectified")));
    form.addEventListener("submit", run("rectified", () => ({ ...formData(form), evidence: [] })));
    forms.push(form);
  }
  if (can("hazards:reinspect") && z.status === "awaiting_reinspection" && z.reinspection_passed !== true) {
    const form = h("form#hz-reinspect", {},
      h("label", t("reinspect"), h("select", { name: "passed" },
        h("option", { value: "true" }, t("pass")), h("option", { value: "false" }, t("fail")))),
      h("label", t("note"), h("textarea", { name: "note", required: true, rows: 2 })),
      h("button", { type: "submit" }, t("reinspect")));
    form.addEventListener("submit", run("reinspect", () => ({ passed: form.passed.value === "true",
      note: form.note.value, evidence: [] })));
    forms.push(form);
  }
  if (write && z.major && !z.treatment_plan) {
    const form = h("form#hz-plan", {},
      h("label", "Plan", h("textarea", { name: "treatment_plan", required: true, rows: 2 })),
      h("button", { type: "submit" }, t("send")));
    form.addEventListener("submit", run("plan", () => ({ treatment_plan: form.treatment_plan.value, major: true })));
    forms.push(form);
  }
  if (write && z.status === "awaiting_reinspection" && z.reinspection_passed === true) {
    forms.push(h("button.primary#hz-close", { type: "button", onclick: run("close") }, t("closeOut")));
  }
  if (write && z.status === "closed") {
    forms.push(h("button#hz-archive", { type: "button", onclick: run("archive") }, t("archive")));
  }
  replace(panel,
    h("button.back", { type: "button", onclick: () => { panel.hidden = true; } }, "✕"),
    h("h3", h(`span.level.${z.level}`, label("hzLevel", z.level)), ` #${z.id} ${z.title}`),
    h("dl.facts",
      h("dt", t("status")), h("dd#hz-status", { dataset: { status: z.status } }, label("hzStatus", z.status)),
      h("dt", t("category")), h("dd", label("hzCategory", z.category)),
      h("dt", t("location")), h("dd", z.location || roomLabel(reg, z.room_id, z.site_id)),
      h("dt", t("deadline")), h("dd", fmtTime(z.deadline_at, { full: true })),
      h("dt", t("responsible")), h("dd", [z.responsible_person, z.department].filter(Boolean).join(" · ") || "—"),
      z.measures ? [h("dt", t("measures")), h("dd", z.measures)] : null,
      z.rectified_by ? [h("dt", t("rectified")), h("dd", `${z.rectified_by} · ${fmtTime(z.rectified_at)} · ${z.rectification_note}`)] : null,
      z.reinspected_by ? [h("dt", t("reinspect")), h("dd",
        `${z.reinspection_passed ? t("pass") : t("fail")} · ${z.reinspected_by} · ${z.reinspection_note}`)] : null,
      z.alert_id ? [h("dt", "alert"), h("dd", h("a", { href: `/console/alerts/${z.alert_id}` }, `#${z.alert_id}`))] : null,
      z.work_order_id ? [h("dt", "WO"), h("dd", h("a", { href: `/console/dispatch/${z.work_order_id}` }, `#${z.work_order_id}`))] : null),
    forms, message,
    h("h4", t("history")),
    h("ol.timeline", z.history.map((e) => h("li", h("time", fmtTime(e.at)), " ", h("b", label("audit", e.action)), " ", h("span.muted", e.actor)))));
  panel.hidden = false;
}

// ---------------------------------------------------------------------------------------- three lists

const LISTS = [["hazards", "hazardList"], ["rectifications", "rectificationList"], ["responsibilities", "responsibilityList"]];
const TIME_KEYS = new Set(["registered_at", "deadline_at", "rectified_at", "reinspected_at"]);

async function lists(body, ctx) {
  for (const [which, title] of LISTS) {
    const rows = await api(`/api/ledgers/${which}`);
    if (!ctx.alive()) return;
    const columns = rows.length ? Object.keys(rows[0]) : [];
    body.append(h("section.card", { id: `list-${which}` },
      h("header.pane-head", h("h3", t(title)),
        h("button", { type: "button", onclick: async () => download(await api(`/api/ledgers/${which}?format=csv`, { blob: true }),
          `${which}.csv`) }, t("exportCsv"))),
      rows.length ? h("div.table-wrap", h("table",
        h("thead", h("tr", columns.map((c) => h("th", c)))),
        h("tbody", rows.map((r) => h("tr", columns.map((c) => h("td", cell(c, r[c])))))))) : h("p.muted", t("nothing"))));
  }
}

function cell(column, value) {
  if (value === null || value === undefined) return "";
  if (TIME_KEYS.has(column)) return fmtTime(value, { full: true });
  if (column === "level") return h(`span.level.${value}`, label("hzLevel", value));
  if (column === "status") return label("hzStatus", value);
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

// ---------------------------------------------------------------------------------------- inspections

async function inspections(body, ctx, reg) {
  const [templates, tasks] = await Promise.all([api("/api/inspections/templates"), api("/api/inspections/tasks?limit=500")]);
  if (!ctx.alive()) return;
  const byId = new Map(templates.map((tp) => [tp.id, tp]));
  const gen = can("ledgers:write") ? h("button", { type: "button", onclick: async () => {
    const d = new Date();
    const start = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    await api(`/api/inspections/tasks/generate?start=${start}&days=31`, { method: "POST" });
    replace(body);
    inspections(body, ctx, reg);
  } }, t("generate")) : null;
  // What needs doing now: overdue tasks and those due within a week; then the latest done ones.
  const soon = Date.now() / 1000 + 7 * 86400;
  const shown = tasks.filter((tk) => tk.status === "overdue" || (tk.status === "open" && tk.due_at < soon))
    .concat(tasks.filter((tk) => tk.status === "done").slice(-20));
  body.append(h("section.card#inspection-tasks", h("header.pane-head", h("h3", t("inspections")), gen),
    shown.length ? h("ul.plain.tasks", shown.map((task) => taskItem(task, byId.get(task.template_id), reg, () => {
      replace(body);
      inspections(body, ctx, reg);
    }))) : h("p.muted", t("nothing"))));
}

function taskItem(task, template, reg, done) {
  const items = template?.items || [];
  const head = h("div", h("b", template?.name || `#${task.template_id}`), ` · ${label("cadence", task.cadence)} · `,
    roomLabel(reg, null, task.site_id), ` · ${t("due")} ${fmtTime(task.due_at, { full: true })} · `,
    h(`span.task-${task.status}`, label("taskStatus", task.status)));
  if (task.status === "done" || !can("inspections:do") || !items.length) return h("li", head);
  const form = h("form.checklist", {},
    items.map((item) => h("fieldset", h("legend", item.label),
      h("label.check", h("input", { type: "checkbox", name: `ok:${item.key}`, checked: true }), t("ok")),
      h("input", { name: `note:${item.key}`, placeholder: t("note"), maxlength: 4000 }))),
    h("button", { type: "submit" }, t("results")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await api(`/api/inspections/tasks/${task.id}/results`, { method: "POST", json: { items: items.map((item) => ({
      key: item.key, ok: form.elements[`ok:${item.key}`].checked, note: form.elements[`note:${item.key}`].value })) } });
    done();
  });
  return h("li", h("details", h("summary", head), form));
}

// -------------------------------------------------------------------------------------------- overdue

async function overdue(body, ctx, reg) {
  const [hz, tasks, complaints, tests] = await Promise.all([
    api("/api/hazards?overdue=true"), api("/api/inspections/tasks?status=overdue&limit=500"),
    api("/api/complaints?overdue=true"), api("/api/device-tests/overdue")]);
  if (!ctx.alive()) return;
  body.append(
    h("section.card#overdue-hazards", h("h3", `${t("hazards")} (${hz.length})`), h("div.table-wrap", hazardTable(hz, reg, () => {}))),
    h("section.card", h("h3", `${t("inspections")} (${tasks.length})`), tasks.length ? h("ul.plain", tasks.map((tk) =>
      h("li", `#${tk.id} ${label("cadence", tk.cadence)} · ${tk.role} · ${roomLabel(reg, null, tk.site_id)} · ${t("due")} `,
        dueEl(tk.due_at)))) : h("p.muted", t("nothing"))),
    h("section.card", h("h3", `${t("complaints")} (${complaints.length})`), complaints.length ? h("ul.plain", complaints.map((c) =>
      h("li", `#${c.id} ${c.complainant}: ${c.content} · ${t("due")} `, dueEl(c.feedback_due_at)))) : h("p.muted", t("nothing"))),
    h("section.card", h("h3", `${t("deviceTests")} (${tests.length})`), tests.length ? h("ul.plain", tests.map((d) =>
      h("li", [d.name, label("kind", d.kind), d.last_passed_at ? fmtTime(d.last_passed_at, { full: true }) : "—"]
        .filter(Boolean).join(" · ")))) : h("p.muted", t("nothing"))));
}

// -------------------------------------------------------------------------------------------- monthly

const EXPORTS = ["csv", "xlsx", "pdf"];

async function monthly(body, ctx) {
  const d = new Date();
  const picker = h("input", { type: "month", value: `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}` });
  const report = h("div.report#monthly-report");
  const fetchFile = async (path, name) => download(await api(path, { blob: true }), name);
  body.append(h("div.toolbar", h("label", t("month"), picker),
    EXPORTS.map((fmt) => h("button", { type: "button", onclick: () =>
      fetchFile(`/api/reports/monthly/${picker.value}?format=${fmt}`, `carehub-${picker.value}.${fmt}`) },
    `${t("monthly")} ${fmt.toUpperCase()}`)),
    LISTS.map(([which, title]) => h("button", { type: "button", onclick: () =>
      fetchFile(`/api/ledgers/${which}?format=csv`, `${which}.csv`) }, `${t(title)} CSV`)),
    h("button", { type: "button", onclick: () => window.print() }, t("print"))),
  report);
  const draw = async () => {
    const month = picker.value;
    // The hub's figures (its time zone decides the month); the daily trends are counted from the same span.
    const [fig, alerts, hz] = await Promise.all([
      api(`/api/reports/monthly/${month}`),
      api("/api/alerts?state=new&state=acknowledged&state=dispatched&state=resolved&state=closed&limit=5000"),
      api("/api/hazards?limit=10000")]);
    if (!ctx.alive() || month !== picker.value) return;
    const days = Math.round((fig.end - fig.start) / 86400);
    const perDay = (items, key) => {
      const counts = new Array(days).fill(0);
      for (const item of items) {
        if (item[key] >= fig.start && item[key] < fig.end) counts[Math.floor((item[key] - fig.start) / 86400)] += 1;
      }
      return counts;
    };
    const pct = (v) => (v == null ? "—" : `${Number(v).toFixed(1)}%`);
    const { alerts: a, workorders: w, hazards: z, inspections: i } = fig;
    const alertChart = h("div.chart#chart-alerts");
    const hazardChart = h("div.chart#chart-hazards");
    replace(report,
      h("div.kpis",
        kpi(t("alertsCount"), a.total),
        kpi(t("answered60"), pct(a.answered_60s_pct), a.answerable ? a.answered_60s_pct >= 97.5 : null),
        kpi(t("answered180"), pct(a.answered_180s_pct), a.answerable ? a.answered_180s_pct >= 99 : null),
        kpi(t("ackP50"), a.median_answer_s == null ? "—" : `${a.median_answer_s.toFixed(0)} s`),
        kpi(t("ordersCreated"), w.created), kpi(t("ordersCompleted"), w.completed),
        kpi(t("rating"), w.average_rating == null ? "—" : w.average_rating.toFixed(1)),
        kpi(t("hazards"), z.opened), kpi(t("hazardsClosed"), z.closed),
        kpi(t("hazardsOpen"), z.open_at_end, z.overdue_at_end ? false : null),
        kpi(t("tasksDone"), `${i.done} / ${i.due}`, i.due ? i.missed === 0 : null),
        kpi(t("tasksOverdue"), i.missed, i.missed ? false : null)),
      h("section.card", h("h3", t("coverage")), h("div.table-wrap", h("table",
        h("thead", h("tr", [t("county"), t("township"), t("monitoring"), t("visits")].map((c) => h("th", c)))),
        h("tbody", fig.coverage.map((c) => h("tr",
          h("td", c.county || "—"), h("td", c.township || "—"),
          h("td", { class: c.monitoring_met ? "" : "error" }, `${c.monitored} / ${c.solitary_or_empty_nest} · ${pct(c.monitoring_pct)} (≥ ${c.monitoring_target_pct}%)`),
          h("td", { class: c.visit_met ? "" : "error" }, `${c.visited} / ${c.solitary_70_plus} · ${pct(c.visit_pct)} (${c.visit_target_pct}%)`))))))),
      h("section.card", h("h3", t("alarmsByDay")), alertChart),
      h("section.card", h("h3", t("hazardsByDay")), hazardChart),
      h("p.muted", `${t("disclosureDue")} ${fmtTime(fig.due_at, { full: true })} · ${me()?.name} · ${fmtTime(Date.now() / 1000, { full: true })}`));
    const categories = Array.from({ length: days }, (_, n) => String(n + 1));
    barChart(alertChart, { categories, bars: [1, 2, 3].map((p) => ({ name: `P${p}`, color: PRIORITY_COLOURS[p],
      values: perDay(alerts.filter((x) => x.priority === p), "created_at") })) });
    barChart(hazardChart, { categories, bars: LEVELS.map((l) => ({ name: label("hzLevel", l), color: LEVEL_COLOURS[l],
      values: perDay(hz.filter((x) => x.level === l), "registered_at") })) });
  };
  picker.addEventListener("change", () => draw().catch((err) => replace(report, h("p.error", err.message))));
  await draw();
}

function kpi(name, value, good) {
  return h("div.kpi", { class: good === true ? "good" : good === false ? "bad" : "" }, h("span.muted", name), h("b", String(value)));
}
