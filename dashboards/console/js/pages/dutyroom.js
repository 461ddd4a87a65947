// Duty room: the live queue (priority, then age) beside the selected alert's detail.

import { ageEl, h, replace } from "../dom.js";
import { label, t } from "../i18n.js";
import { feed } from "../live.js";
import { registry, residentName, roomLabel } from "../registry.js";
import { renderAlert } from "./alert.js";

/** Render the queue and, with /alerts/{id}, the alert beside it (on a phone: the alert alone). */
export async function render(main, ctx) {
  const reg = await registry();
  if (!ctx.alive()) return;
  const selected = ctx.params[0] ? Number(ctx.params[0]) : null;
  const counter = h("div.counter", { id: "queue-counter", "aria-live": "polite" });
  const list = h("ol.queue", { id: "queue", "aria-label": t("queue") });
  const detail = h("section.detail-pane", { "aria-label": t("detail") });
  main.append(h("div.dutyroom", { class: selected ? "has-detail" : "" },
    h("section.queue-pane", h("header.pane-head", h("h2", t("queue")), counter), list), detail));

  let frame = 0;
  const rows = new Map(); // alert id -> {shown, li}: a row is rebuilt only when what it shows has changed
  const draw = () => {
    frame = 0;
    const alerts = feed.sorted();
    const byPriority = [1, 2, 3].map((p) => alerts.filter((a) => a.priority === p).length);
    const unacked = alerts.filter((a) => a.state === "new").length;
    counter.dataset.count = String(alerts.length);
    replace(counter,
      h("span.total", `${alerts.length}`),
      byPriority.map((n, i) => h(`span.pill.p${i + 1}`, `P${i + 1} ${n}`)),
      h("span.unacked", `${t("unacked")} ${unacked}`));
    const wanted = alerts.map((a) => {
      const shown = [a.priority, a.state, a.type, a.count, a.resident_id, a.subject, a.room_id, a.site_id,
        a.created_at].join("|");
      if (rows.get(a.id)?.shown !== shown) rows.set(a.id, { shown, li: row(a) });
      return rows.get(a.id).li;
    });
    const keep = new Set(wanted);
    for (const [id, { li }] of rows) if (!keep.has(li)) rows.delete(id);
    if (!alerts.length) {
      replace(list, h("li.empty", feed.connected ? t("queueEmpty") : t("loading")));
      return;
    }
    // Touch only the rows that changed: with hundreds open, rebuilding the whole list on every change
    // kept the browser busy for a tenth of a second per frame and restarted every row's pulse.
    for (const li of [...list.children]) if (!keep.has(li)) li.remove();
    wanted.forEach((li, i) => { if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null); });
  };
  const row = (a) => h("li",
    h("a.alert-row", {
      href: `/console/alerts/${a.id}`,
      class: `p${a.priority} st-${a.state}${a.id === selected ? " selected" : ""}`,
      dataset: { alertId: String(a.id), state: a.state, priority: String(a.priority) },
      "aria-current": a.id === selected ? "true" : null,
    },
    h("span.prio", `P${a.priority}`),
    h("span.type", label("type", a.type), a.count > 1 ? h("span.count", ` ×${a.count}`) : null),
    h("span.who", residentName(reg, a.resident_id, a.subject)),
    h("span.where", roomLabel(reg, a.room_id, a.site_id)),
    h("span.state", label("state", a.state)),
    ageEl(a.created_at)));
  // Many changes in one burst draw once.
  const schedule = () => { frame = frame || requestAnimationFrame(draw); };
  draw();
  ctx.onCleanup(feed.subscribe(schedule));
  ctx.onCleanup(() => cancelAnimationFrame(frame));

  if (selected) {
    await renderAlert(detail, selected, ctx, reg);
  } else {
    detail.append(h("p.empty.hint", t("selectAlert")));
  }
}
