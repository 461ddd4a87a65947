// Family page (phone first): their own relative only — the hub scopes every answer to the user's relatives.

import { api, me } from "../api.js";
import { fmtTime, h, replace } from "../dom.js";
import { label, t } from "../i18n.js";
import { feed } from "../live.js";

const ALL_STATES = "state=new&state=acknowledged&state=dispatched&state=resolved&state=closed";
const OPEN = new Set(["new", "acknowledged", "dispatched"]);

/** Render one card per relative: status, the open alert's progress, recent alerts. */
export async function render(main, ctx) {
  const root = h("div.family#family");
  main.append(root);
  const names = new Map((me()?.relatives || []).map((r) => [r.id, r.name]));
  const draw = async () => {
    let alerts;
    try {
      alerts = await api(`/api/alerts?${ALL_STATES}&limit=200`);
    } catch {
      return;
    }
    const ids = new Set(me()?.resident_ids || []);
    for (const a of alerts) if (a.resident_id != null) ids.add(a.resident_id);
    // Names come with the user (/api/auth/me); a relative added since sign-in, from an alert's resident card.
    for (const id of ids) {
      const latest = alerts.find((a) => a.resident_id === id);
      if (!names.has(id) && latest) {
        try {
          const detail = await api(`/api/alerts/${latest.id}`);
          if (detail.resident) names.set(id, detail.resident.name);
        } catch { /* keep the number */ }
      }
    }
    if (!ctx.alive()) return;
    if (!ids.size) {
      replace(root, h("p.empty", t("familyNoRelative")));
      return;
    }
    replace(root, [...ids].map((id) => relativeCard(id, names.get(id) || t("relativeN", { id }),
      alerts.filter((a) => a.resident_id === id).sort((a, b) => b.created_at - a.created_at))));
  };
  await draw();
  let timer = 0;
  ctx.onCleanup(feed.subscribe(() => { clearTimeout(timer); timer = setTimeout(draw, 200); }));
  ctx.onCleanup(() => clearTimeout(timer));
}

function relativeCard(id, name, alerts) {
  const open = alerts.filter((a) => OPEN.has(a.state));
  return h("section.card.relative", { dataset: { residentId: String(id) }, class: open.length ? "has-open" : "all-ok" },
    h("h2", name),
    open.length
      ? h("div.status.open", { role: "status" }, h("b", `⚠ ${t("familyOpen")}`), open.map(progress))
      : h("div.status.ok", { role: "status" }, h("b", `✓ ${t("familyOk")}`), h("p.muted", t("familyOkHint"))),
    h("h3", t("recentAlerts")),
    alerts.length ? h("ul.plain.recent", alerts.slice(0, 10).map((a) => h("li",
      h("b", label("type", a.type)), ` · ${fmtTime(a.created_at, { full: true })} · `,
      OPEN.has(a.state) ? label("state", a.state)
        : t("resolvedAs", { outcome: label("outcome", a.outcome) })))) : h("p.muted", t("nothing")));
}

function progress(a) {
  const steps = [
    [true, `${label("type", a.type)} · ${fmtTime(a.created_at)}`],
    [Boolean(a.acknowledged_at), a.acknowledged_at ? `${t("seenBy")} · ${fmtTime(a.acknowledged_at)}` : t("waiting")],
    [Boolean(a.dispatched_at), `${t("onTheWay")}${a.responder ? ` · ${a.responder}` : ""}`],
    [Boolean(a.arrived_at), t("withResident")],
  ];
  return h("div.alert-progress", { dataset: { alertId: String(a.id) } },
    h("ol.progress", { "aria-label": t("beingDone") }, steps.map(([done, text]) =>
      h("li", { class: done ? "done" : "todo" }, h("span.mark", done ? "●" : "○"), " ", text))),
    answerButtons(a));
}

/** "I'm handling it" / "please call me": logged on the alert and shown to the duty room at once. */
function answerButtons(a) {
  const note = h("p.muted.answer-note", { role: "status" });
  const answer = (value, text) => h("button.big", {
    type: "button", dataset: { answer: value },
    onclick: async (event) => {
      event.target.disabled = true;
      try {
        await api(`/api/alerts/${a.id}/family-response`, { method: "POST", json: { answer: value } });
        replace(note, t("familyAnswered", { answer: text }));
      } finally {
        event.target.disabled = false;
      }
    },
  }, text);
  return h("div.family-answers", answer("handling", t("familyHandling")), answer("call_me", t("familyCallMe")), note);
}
