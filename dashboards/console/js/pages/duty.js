// Duty records: who is on duty, the duty log, shift handovers (hand over, sign), calls, CSV exports.

import { api, can, me } from "../api.js";
import { download, fmtTime, formData, h, replace } from "../dom.js";
import { label, t } from "../i18n.js";

const LOG_KINDS = ["note", "event", "call", "shift_start", "shift_end"];

/** Render the duty records page. */
export async function render(main, ctx) {
  const onDuty = h("section.card#on-duty");
  const log = h("section.card#duty-log");
  const handovers = h("section.card#handovers");
  const calls = h("section.card#calls");
  main.append(h("header.page-head", h("h2", t("dutyTitle")),
    h("div.exports", [["log", "dutyLog"], ["handovers", "handovers"], ["calls", "calls"], ["shifts", "shifts"]]
      .map(([what, text]) => h("button", { type: "button", onclick: () => exportCsv(what) }, `${t(text)} CSV`)))),
  h("div.duty-grid", onDuty, handovers, log, calls));
  const refresh = async () => {
    await Promise.all([drawOnDuty(onDuty), drawLog(log, refresh), drawHandovers(handovers, refresh), drawCalls(calls)]);
  };
  await refresh();
  const timer = setInterval(() => drawOnDuty(onDuty), 60_000);
  ctx.onCleanup(() => clearInterval(timer));
}

async function exportCsv(what) {
  download(await api(`/api/duty/${what}.csv`, { blob: true }), `duty-${what}.csv`);
}

async function drawOnDuty(el) {
  const rows = await api("/api/duty/on-duty");
  replace(el, h("h3", t("onDuty")), rows.length ? h("ul.plain", rows.map((s) => h("li",
    h("b", s.name), ` · ${s.role} · ${fmtTime(s.starts_at)}–${fmtTime(s.ends_at)} `,
    s.phone ? h("a.tel", { href: `tel:${s.phone.replace(/[^\d+]/g, "")}` }, `☎ ${s.phone}`) : null)))
    : h("p.muted", t("nothing")));
}

async function drawLog(el, refresh) {
  const rows = await api("/api/duty/log?limit=100");
  const keep = el.querySelector("form");
  const form = keep || h("form.inline#log-form", {},
    h("label", t("kind"), h("select", { name: "kind" }, LOG_KINDS.map((k) => h("option", { value: k }, label("logKind", k))))),
    h("label.grow", t("text"), h("input", { name: "text", required: true, maxlength: 4000 })),
    h("button", { type: "submit" }, t("addLog")));
  if (!keep) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await api("/api/duty/log", { method: "POST", json: formData(form) });
      form.reset();
      refresh();
    });
  }
  replace(el, h("h3", t("dutyLog")), can("duty:write") ? form : null,
    rows.length ? h("ol.timeline", rows.map((e) => h("li",
      h("time", fmtTime(e.at, { full: true })), " ", h("b", label("logKind", e.kind)), " ", h("span.muted", e.actor),
      h("div", e.text), e.alert_id ? h("a", { href: `/console/alerts/${e.alert_id}` }, `#${e.alert_id}`) : null)))
      : h("p.muted", t("nothing")));
}

async function drawHandovers(el, refresh) {
  const rows = await api("/api/duty/handovers?limit=20");
  const form = h("form#handover-form", {},
    h("label", t("handoverNotes"), h("textarea", { name: "notes", rows: 3, maxlength: 20000 })),
    h("button", { type: "submit" }, t("newHandover")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await api("/api/duty/handovers", { method: "POST", json: formData(form) });
    refresh();
  });
  const self = me()?.name;
  replace(el, h("h3", t("handovers")), can("duty:write") ? form : null,
    rows.length ? h("ol.plain", rows.map((ho) => h("li.handover", { class: ho.complete ? "complete" : "open" },
      h("div", h("time", fmtTime(ho.created_at, { full: true })), " ", h("b", `${t("outgoing")}: ${ho.outgoing_by}`), " · ",
        ho.complete ? `${t("incoming")}: ${ho.incoming_by} (${t("signed")} ${fmtTime(ho.incoming_signed_at)})`
          : h("span.warn", t("unsigned"))),
      ho.notes ? h("p.pre", ho.notes) : null,
      ho.open_alerts?.length ? h("p.muted", `${t("openAlertsAtHandover")}: `, ho.open_alerts.map((a, i) =>
        [i ? ", " : "", h("a", { href: `/console/alerts/${a.id}` }, `#${a.id} ${label("type", a.type)}`)])) : null,
      ho.incoming_notes ? h("p.pre", ho.incoming_notes) : null,
      !ho.complete && can("duty:write") && !String(ho.outgoing_by).endsWith(`:${self}`) && ho.outgoing_by !== self
        ? signForm(ho, refresh) : null)))
      : h("p.muted", t("nothing")));
}

function signForm(ho, refresh) {
  const form = h("form.inline", {},
    h("label.grow", t("note"), h("input", { name: "notes", maxlength: 20000 })),
    h("button", { type: "submit" }, t("sign")));
  const message = h("span.error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`/api/duty/handovers/${ho.id}/sign`, { method: "POST", json: formData(form) });
      refresh();
    } catch (err) {
      message.textContent = err.message;
    }
  });
  form.append(message);
  return form;
}

async function drawCalls(el) {
  const rows = await api("/api/duty/calls?limit=50");
  replace(el, h("h3", t("calls")), rows.length ? h("div.table-wrap", h("table",
    h("thead", h("tr", [t("time"), t("actor"), t("callee"), t("outcome"), t("note")].map((c) => h("th", c)))),
    h("tbody", rows.map((c) => h("tr", h("td", fmtTime(c.at, { full: true })), h("td", c.caller), h("td", c.callee),
      h("td", c.outcome), h("td", c.note, c.alert_id ? [" ", h("a", { href: `/console/alerts/${c.alert_id}` },
        `#${c.alert_id}`)] : null)))))) : h("p.muted", t("nothing")));
}
