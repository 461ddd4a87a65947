// The console's shell: header, unreachable banner, the page router, the ticker and the P1 alarm.

import { can, logout, me, onReachability, onSession, ping } from "./api.js";
import { isRinging, onAlarmChange, setAlarm, soundState, toggleSound } from "./alarm.js";
import { disposeCharts } from "./charts.js";
import { fmtTime, h, replace, tick } from "./dom.js";
import { label, lang, t, toggleLang } from "./i18n.js";
import { feed } from "./live.js";
import { resetRegistry } from "./registry.js";

const BASE = "/console";

// [pattern, module, who may open it]
const ROUTES = [
  [/^\/login$/, () => import("./pages/login.js"), () => true],
  [/^\/alerts(?:\/(\d+))?$/, () => import("./pages/dutyroom.js"), () => can("alerts:read") && can("registry:read")],
  [/^\/floor$/, () => import("./pages/floor.js"), () => can("registry:read")],
  [/^\/duty$/, () => import("./pages/duty.js"), () => can("registry:read") && can("alerts:read")],
  [/^\/residents(?:\/(\d+))?$/, () => import("./pages/resident.js"), () => can("registry:read")],
  [/^\/family$/, () => import("./pages/family.js"), () => can("alerts:read")],
  [/^\/dispatch(?:\/(\d+))?$/, () => import("./pages/dispatch.js"), () => can("workorders:read")],
  [/^\/safety(?:\/(\w+))?$/, () => import("./pages/safety.js"), () => can("ledgers:read")],
];

const NAV = [
  ["alerts", () => can("alerts:read") && can("registry:read")],
  ["floor", () => can("registry:read")],
  ["residents", () => can("registry:read")],
  ["duty", () => can("duty:write")],
  ["dispatch", () => can("workorders:read")],
  ["safety", () => can("ledgers:read")],
  ["family", () => me()?.role === "family"],
];

const top = document.getElementById("top");
const banner = document.getElementById("banner");
const main = document.getElementById("app");
let renderToken = 0;
let cleanups = [];

/** Return the start page for the signed-in user's role. */
function home() {
  const role = me()?.role;
  if (role === "family") return "/family";
  if (role === "safety_officer") return "/safety";
  if (role === "dispatcher") return "/dispatch";
  return can("registry:read") ? "/alerts" : "/family";
}

/** Go to a console path ("/alerts/3") without reloading. */
export function navigate(path, { replace: swap = false } = {}) {
  const url = path.startsWith(BASE) ? path : BASE + path;
  if (swap) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

async function render() {
  const token = ++renderToken;
  for (const fn of cleanups) fn();
  cleanups = [];
  disposeCharts();
  let path = location.pathname.slice(BASE.length).replace(/\/+$/, "") || "/";
  if (!me() && path !== "/login") {
    sessionStorage.setItem("carehub.after-login", location.pathname);
    return navigate("/login", { replace: true });
  }
  if (path === "/" || (me() && path === "/login")) return navigate(home(), { replace: true });
  drawHeader(path);
  const route = ROUTES.find(([re]) => re.test(path));
  if (!route || !route[2]()) {
    replace(main, h("p.empty", t("notFound")));
    return;
  }
  const params = path.match(route[0]).slice(1);
  replace(main, h("p.loading", t("loading")));
  const page = await route[1]();
  if (token !== renderToken) return;
  main.replaceChildren();
  const ctx = {
    params,
    alive: () => token === renderToken,
    onCleanup: (fn) => cleanups.push(fn),
    navigate,
  };
  try {
    await page.render(main, ctx);
  } catch (err) {
    if (token === renderToken) append(main, err);
  }
  main.dataset.page = path.split("/")[1];
}

function append(el, err) {
  el.append(h("p.error", { role: "alert" }, `${t("failed")}: ${err.message || err}`));
}

function drawHeader(path) {
  const user = me();
  const section = path.split("/")[1];
  replace(top,
    h("a.brand", { href: `${BASE}/` }, t("app")),
    user ? h("nav", NAV.filter(([, allowed]) => allowed()).map(([key]) =>
      h("a", { href: `${BASE}/${key}`, class: section === key ? "active" : "", "aria-current": section === key ? "page" : null },
        t(`nav.${key}`)))) : null,
    h("div.tools",
      user && can("alerts:act") ? drawSound(h("button.sound#sound-toggle", { type: "button", onclick: () => toggleSound() }))
        : null,
      h("button.lang", { type: "button", onclick: () => { toggleLang(); render(); } }, t("language")),
      user ? h("span.user", `${user.name} · ${label("role", user.role)}`) : null,
      user ? h("button.signout", { type: "button", onclick: signOut }, t("signOut")) : null));
}

/** Show the sound state on its button in place (redrawing the header mid-click would swallow the click). */
function drawSound(button) {
  const sound = soundState();
  button.className = `sound sound-${sound}${isRinging() ? " ringing" : ""}`;
  button.setAttribute("aria-pressed", String(sound === "on"));
  button.dataset.ringing = String(isRinging());
  button.title = isRinging() ? t("ringing") : "";
  button.textContent = sound === "on" ? `♪ ${t("soundOn")}` : sound === "off" ? `✕ ${t("soundOff")}` : `! ${t("soundBlocked")}`;
  return button;
}

function signOut() {
  feed.stop();
  resetRegistry();
  setAlarm(false);
  logout();
}

// ------------------------------------------------------------------------------------------ wiring

document.addEventListener("click", (event) => {
  const a = event.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download") || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const href = a.getAttribute("href");
  if (!href.startsWith(`${BASE}/`)) return;
  event.preventDefault();
  navigate(href);
});
window.addEventListener("popstate", render);

let pinger = null;
onReachability((down, lastContact) => {
  banner.hidden = down.size === 0;
  document.body.classList.toggle("hub-down", down.size > 0);
  if (down.size) {
    const what = down.has("api") ? t("unreachable") : t("streamDown");
    replace(banner, what, lastContact ? ` (${t("lastContact")} ${fmtTime(lastContact)})` : "");
    pinger = pinger || setInterval(ping, 3000);
  } else {
    clearInterval(pinger);
    pinger = null;
  }
});

onSession((session) => {
  if (!session) {
    feed.stop();
    resetRegistry();
    setAlarm(false);
    if (!location.pathname.endsWith("/login")) navigate("/login");
    return;
  }
  if (can("alerts:read")) feed.start();
});

feed.subscribe(() => {
  const alerts = feed.sorted();
  const p1New = alerts.filter((a) => a.priority === 1 && a.state === "new").length;
  setAlarm(can("alerts:act") && p1New > 0);
  document.title = p1New ? `(${p1New}) P1 · CareHub` : alerts.length ? `(${alerts.length}) CareHub` : "CareHub";
});

onAlarmChange(() => {
  const button = document.getElementById("sound-toggle");
  if (button) drawSound(button);
});

setInterval(() => tick(), 1000);
document.documentElement.lang = lang();
if (me() && can("alerts:read")) feed.start();
render();
