// Build DOM from data without innerHTML: every string becomes a text node, so data can never become markup.

const SAFE_URL = /^(\/|#|tel:|mailto:|blob:)/;

/** Create an element: h("a.link#id", {href, onclick}, "text", child, [more]). */
export function h(spec, attrs, ...children) {
  const [base, id] = spec.split("#");
  const [tag, ...classes] = base.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (id) el.id = id;
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = [el.className, value].filter(Boolean).join(" ");
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "href" || key === "src") {
      // Only our own paths and call links: a stored "javascript:" URL must never become a link.
      el.setAttribute(key, SAFE_URL.test(String(value)) ? String(value) : "#");
    } else if (key === "value") {
      el.value = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Append children (strings, numbers, nodes, nested arrays; null and false are skipped). */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Return a local date-time like 2026-11-23 13:04:05 (or only the time for today). */
export function fmtTime(ts, { full = false } = {}) {
  if (ts === null || ts === undefined) return "—";
  const d = new Date(ts * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const today = new Date();
  if (!full && d.toDateString() === today.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** Return a short duration like 2:05, 1:02:03 or 3d 4h (negative for overdue gets a minus sign). */
export function fmtDuration(seconds) {
  const sign = seconds < 0 ? "-" : "";
  let s = Math.floor(Math.abs(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (d > 0) return `${sign}${d}d ${hh}h`;
  if (hh > 0) return `${sign}${hh}:${pad(mm)}:${pad(ss)}`;
  return `${sign}${mm}:${pad(ss)}`;
}

/** Return the current time in epoch seconds. */
export const now = () => Date.now() / 1000;

/** An element whose text counts up from `since` (ages) — updated by the page ticker. */
export function ageEl(since) {
  return h("span.age", { dataset: { since: String(since) } }, fmtDuration(now() - since));
}

/** An element whose text counts down to `due` (SLA timers) — updated by the page ticker. */
export function dueEl(due) {
  const left = due - now();
  return h("span.due", { class: left < 0 ? "overdue" : "", dataset: { due: String(due) } }, fmtDuration(left));
}

/** Update every ticking age and countdown in the document. */
export function tick(root = document) {
  const t = now();
  for (const el of root.querySelectorAll("[data-since]")) el.textContent = fmtDuration(t - Number(el.dataset.since));
  for (const el of root.querySelectorAll("[data-due]")) {
    const left = Number(el.dataset.due) - t;
    el.textContent = fmtDuration(left);
    el.classList.toggle("overdue", left < 0);
  }
}

/** Return a <select> with [value, label] options. */
export function select(name, options, selected, attrs = {}) {
  return h("select", { name, ...attrs },
    options.map(([value, label]) => h("option", { value, selected: value === selected }, label)));
}

/** Read a form's fields into a plain object. */
export function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

/** Download a Blob under a file name. */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
