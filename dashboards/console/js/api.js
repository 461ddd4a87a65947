// Talks to the hub: sign-in, token refresh before expiry, authenticated JSON calls, reachability.

const SESSION_KEY = "carehub.session";
const REFRESH_MARGIN_S = 60; // refresh this long before the access token expires

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let session = load();
let refreshTimer = null;
let refreshing = null;
const listeners = { reachability: new Set(), session: new Set() };
const down = new Set(); // which channels ("api", "stream") currently fail to reach the hub
let lastContact = null;

function load() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY)) || null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) localStorage.setItem(SESSION_KEY, JSON.stringify(next));
  else localStorage.removeItem(SESSION_KEY);
  schedule();
  for (const fn of listeners.session) fn(session);
}

// Another tab refreshed or signed out: take its tokens, so two tabs never spend the same refresh token
// (the hub treats a reused refresh token as stolen and ends every session of the user).
window.addEventListener("storage", (event) => {
  if (event.key !== SESSION_KEY) return;
  session = load();
  schedule();
  for (const fn of listeners.session) fn(session);
});

/** Return the signed-in user ({name, role, permissions, site_ids, resident_ids}) or null. */
export const me = () => session?.me ?? null;

/** Return whether the signed-in user has a permission such as "alerts:act". */
export const can = (permission) => Boolean(session?.me?.permissions?.includes(permission));

/** Call fn(session) whenever the user signs in, out, or the tokens change. */
export const onSession = (fn) => listeners.session.add(fn);

/** Call fn(isDown, lastContact) whenever the hub becomes unreachable or reachable again. */
export const onReachability = (fn) => listeners.reachability.add(fn);

/** Record whether a channel reaches the hub; the banner shows while any channel fails. */
export function reachable(channel, ok) {
  const before = down.size > 0;
  if (ok) {
    down.delete(channel);
    lastContact = Date.now() / 1000;
  } else {
    down.add(channel);
  }
  if (before !== down.size > 0 || !ok) for (const fn of listeners.reachability) fn(down, lastContact);
}

function tokenPair(body) {
  return { access: body.access_token, refresh: body.refresh_token,
    expiresAt: Date.now() / 1000 + (body.expires_in || 900) };
}

async function post(path, fields) {
  let response;
  try {
    response = await fetch(path, { method: "POST", body: new URLSearchParams(fields) });
  } catch (err) {
    reachable("api", false);
    throw new ApiError(0, "unreachable");
  }
  reachable("api", true);
  return response;
}

/** Sign in with the OAuth2 password flow and remember the user; throws ApiError(401|429). */
export async function login(username, password) {
  const response = await post("/api/auth/token", { username, password });
  if (!response.ok) throw new ApiError(response.status, await errorText(response));
  const pair = tokenPair(await response.json());
  const who = await fetch("/api/auth/me", { headers: { Authorization: `Bearer ${pair.access}` } });
  if (!who.ok) throw new ApiError(who.status, await errorText(who));
  save({ ...pair, me: await who.json() });
}

/** Forget the session (tokens stay valid until they expire; the hub has no sign-out endpoint). */
export function logout() {
  save(null);
}

function schedule() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const wait = Math.max(5, session.expiresAt - Date.now() / 1000 - REFRESH_MARGIN_S);
  refreshTimer = setTimeout(() => refresh().catch(() => {}), wait * 1000);
}

/** Swap the refresh token for a new pair, once across all tabs at a time. */
export function refresh() {
  if (!refreshing) {
    const run = async () => {
      const mine = session?.refresh;
      const latest = load(); // another tab may have refreshed already
      if (latest && latest.refresh !== mine && latest.expiresAt - Date.now() / 1000 > REFRESH_MARGIN_S) {
        session = latest;
        schedule();
        return;
      }
      if (!mine) throw new ApiError(401, "signed out");
      const response = await post("/api/auth/refresh", { refresh_token: mine });
      if (response.status === 401) {
        save(null);
        throw new ApiError(401, "session ended");
      }
      if (!response.ok) throw new ApiError(response.status, await errorText(response));
      save({ ...session, ...tokenPair(await response.json()) });
    };
    // Web Locks serialise tabs where the browser offers them (secure contexts); elsewhere the storage
    // check above still catches a tab that refreshed earlier.
    const locked = navigator.locks ? navigator.locks.request("carehub-refresh", run) : run();
    refreshing = locked.finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** Return an access token that is valid for at least a minute (refreshing if needed). */
export async function freshToken() {
  if (!session) throw new ApiError(401, "signed out");
  if (session.expiresAt - Date.now() / 1000 < REFRESH_MARGIN_S) await refresh();
  return session.access;
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
    return JSON.stringify(body);
  } catch {
    return response.statusText;
  }
}

/**
 * Call the API with the access token: api("/api/alerts"), api(path, {method: "POST", json: {...}}).
 * Returns parsed JSON (or a Blob with {blob: true}); throws ApiError with the hub's reason.
 */
export async function api(path, { method = "GET", json, blob = false, retried = false } = {}) {
  const headers = { Authorization: `Bearer ${await freshToken()}` };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  } catch (err) {
    reachable("api", false);
    throw new ApiError(0, "unreachable");
  }
  if (response.status >= 502 && response.status <= 504) {
    reachable("api", false); // a proxy in front of a stopped hub
    throw new ApiError(response.status, "unreachable");
  }
  reachable("api", true);
  if (response.status === 401 && !retried) {
    await refresh();
    return api(path, { method, json, blob, retried: true });
  }
  if (!response.ok) throw new ApiError(response.status, await errorText(response));
  if (blob) return response.blob();
  return response.status === 204 ? null : response.json();
}

/** Return whether the hub answers its health check (used while the banner shows). */
export async function ping() {
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    reachable("api", response.ok);
    return response.ok;
  } catch {
    reachable("api", false);
    return false;
  }
}

schedule();
