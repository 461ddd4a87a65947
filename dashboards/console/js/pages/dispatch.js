// Dispatcher: the work-order board by state with SLA countdowns; assign, re-assign, follow-up, close, cancel.

import { api, can } from "../api.js";
import { dueEl, fmtTime, formData, h, replace } from "../dom.js";
import { label, t } from "../i18n.js";
import { registry, residentName, roomLabel } from "../registry.js";

const COLUMNS = ["pending", "dispatched", "accepted", "in_service", "completed", "follow_up"];
const REFRESH_MS = 10_000;

/** Render the board; /dispatch/{id} opens one order's panel. */
export async function render(main, ctx) {
  const reg = await registry();
  const board = h("div.board#wo-board");
  const panel = h("aside.card.wo-panel#wo-panel", { hidden: true });
  main.append(h("header.page-head", h("h2", t("dispatchTitle"))), h("div.board-wrap", board, panel));
  const selected = ctx.params[0] ? Number(ctx.params[0]) : null;
  const load = async () => {
    let orders;
    try {
      orders = await api(`/api/workorders?${COLUMNS.map((s) => `status=${s}`).join("&")}&limit=2000`);
    } catch {
      return;
    }
    if (!ctx.alive()) return;
    replace(board, COLUMNS.map((status) => {
      const mine = orders.filter((o) => o.status === status);
      return h("section.column", { dataset: { status } }, h("h3", label("woStatus", status), h("span.muted", ` ${mine.length}`)),
        mine.length ? mine.map((o) => orderCard(o, reg, o.id === selected)) : h("p.muted", "—"));
    }));
  };
  await load();
  if (selected) await openPanel(panel, selected, reg, load);
  const timer = setInterval(load, REFRESH_MS);
  ctx.onCleanup(() => clearInterval(timer));
}

function sla(o) {
  // Before acceptance the accept timer runs; after it the finish timer.
  if (["pending", "dispatched"].includes(o.status)) return [t("slaAccept"), o.accept_due_at];
  if (["accepted", "in_service"].includes(o.status)) return [t("slaFinish"), o.finish_due_at];
  return null;
}

function orderCard(o, reg, selected) {
  const timer = sla(o);
  return h("a.wo-card", { href: `/console/dispatch/${o.id}`, class: `p${o.priority}${selected ? " selected" : ""}`,
    dataset: { orderId: String(o.id) } },
  h("div", h(`span.pill.p${o.priority}`, `P${o.priority}`), " ", h("b", o.title)),
  h("div.muted", `${label("woType", o.type)} · ${roomLabel(reg, o.room_id, o.site_id)}`,
    o.resident_id ? ` · ${residentName(reg, o.resident_id)}` : ""),
  o.assignee ? h("div", `${t("assignee")}: ${o.assignee}`) : null,
  timer ? h("div.sla", `${timer[0]} `, dueEl(timer[1])) : null,
  o.escalations?.length ? h("div.warn", `⚠ ${o.escalations.length}`) : null);
}

async function openPanel(panel, id, reg, reload) {
  let o;
  try {
    o = await api(`/api/workorders/${id}`);
  } catch (err) {
    replace(panel, h("p.error", err.message));
    panel.hidden = false;
    return;
  }
  const message = h("p.message", { role: "status" });
  const run = (path, body) => async (event) => {
    event?.preventDefault();
    try {
      await api(`/api/workorders/${id}/${path}`, { method: "POST", json: body ? body() : undefined });
      await reload();
      await openPanel(panel, id, reg, reload);
    } catch (err) {
      message.textContent = `${t("failed")}: ${err.message}`;
    }
  };
  const forms = [];
  if (can("workorders:act") && ["pending", "dispatched", "accepted"].includes(o.status)) {
    let suggestions = [];
    try {
      suggestions = await api(`/api/workorders/${id}/suggestions`);
    } catch { /* none */ }
    const form = h("form#wo-dispatch", {},
      h("label", t("suggestions"), h("select", { name: "staff_id" }, h("option", { value: "" }, "—"),
        suggestions.map((s) => h("option", { value: String(s.staff_id) },
          `${s.name} · ${s.role} · ${t("load")} ${s.load}${s.distance_km != null ? ` · ${s.distance_km.toFixed(1)} ${t("km")}` : ""}`)))),
      h("label", t("orName"), h("input", { name: "assignee", maxlength: 200 })),
      h("button", { type: "submit" }, o.assignee ? t("reassign") : t("assign")));
    form.addEventListener("submit", run("dispatch", () => {
      const f = formData(form);
      return f.staff_id ? { staff_id: Number(f.staff_id) } : { assignee: f.assignee };
    }));
    forms.push(form);
  }
  if (can("workorders:act") && o.status === "completed") {
    forms.push(h("div.buttons", h("button", { type: "button", onclick: run("follow-up-due") }, t("requestFollowUp")),
      h("button", { type: "button", onclick: run("close") }, t("close"))));
  }
  if (can("workorders:act") && o.status === "follow_up") {
    const form = h("form#wo-follow-up", {},
      h("label", t("rating"), h("select", { name: "rating" }, [5, 4, 3, 2, 1].map((n) => h("option", { value: String(n) }, "★".repeat(n))))),
      h("label", t("comment"), h("input", { name: "comment", maxlength: 4000 })),
      h("button", { type: "submit" }, t("followUp")));
    form.addEventListener("submit", run("follow-up", () => ({ ...formData(form), rating: Number(form.rating.value) })));
    forms.push(form);
  }
  if (can("workorders:act") && ["pending", "dispatched", "accepted", "in_service"].includes(o.status)) {
    const form = h("form.inline#wo-cancel", {},
      h("label.grow", t("reason"), h("input", { name: "reason", required: true, maxlength: 2000 })),
      h("button", { type: "submit" }, t("cancel")));
    form.addEventListener("submit", run("cancel", () => formData(form)));
    forms.push(form);
  }
  const timer = sla(o);
  replace(panel,
    h("a.back", { href: "/console/dispatch" }, `✕`),
    h("h3", `#${o.id} ${o.title}`),
    h("dl.facts",
      h("dt", t("status")), h("dd", label("woStatus", o.status)),
      h("dt", t("room")), h("dd", roomLabel(reg, o.room_id, o.site_id)),
      o.resident_id ? [h("dt", t("resident")), h("dd", h("a", { href: `/console/residents/${o.resident_id}` },
        residentName(reg, o.resident_id)))] : null,
      o.alert_id ? [h("dt", "#"), h("dd", h("a", { href: `/console/alerts/${o.alert_id}` }, `alert ${o.alert_id}`))] : null,
      o.hazard_id ? [h("dt", t("hazards")), h("dd", h("a", { href: "/console/safety" }, `#${o.hazard_id}`))] : null,
      h("dt", t("assignee")), h("dd", o.assignee || "—"),
      timer ? [h("dt", timer[0]), h("dd", dueEl(timer[1]))] : null,
      o.result ? [h("dt", t("results")), h("dd", o.result)] : null,
      o.rating ? [h("dt", t("rating")), h("dd", "★".repeat(o.rating))] : null),
    o.description ? h("p.pre", o.description) : null,
    forms, message,
    h("h4", t("history")),
    h("ol.timeline", o.history.map((e) => h("li", h("time", fmtTime(e.at)), " ", h("b", label("audit", e.action)), " ",
      h("span.muted", e.actor)))));
  panel.hidden = false;
}
