// Names for ids: sites, rooms, residents and staff, fetched once and refreshed at most every minute.

import { api, can } from "./api.js";

const MAX_AGE_MS = 60_000;
let cache = null;
let loadedAt = 0;
let loading = null;

const index = (rows) => new Map(rows.map((r) => [r.id, r]));

/** Load (or reuse) the registry; users without registry access get empty maps. */
export async function registry({ force = false } = {}) {
  if (cache && !force && Date.now() - loadedAt < MAX_AGE_MS) return cache;
  if (!can("registry:read")) {
    cache = { sites: new Map(), rooms: new Map(), residents: new Map(), staff: new Map() };
    return cache;
  }
  loading = loading || Promise.all(["/api/sites", "/api/rooms", "/api/residents", "/api/staff"].map((p) => api(p)))
    .then(([sites, rooms, residents, staff]) => {
      cache = { sites: index(sites), rooms: index(rooms), residents: index(residents), staff: index(staff) };
      loadedAt = Date.now();
      return cache;
    })
    .finally(() => { loading = null; });
  return loading;
}

/** Forget the cache (sign-out). */
export function resetRegistry() {
  cache = null;
}

/** Return "Site · A-101" for a room id (or what is known). */
export function roomLabel(reg, roomId, siteId) {
  const room = reg?.rooms.get(roomId);
  const site = reg?.sites.get(room ? room.site_id : siteId);
  const parts = [];
  if (site) parts.push(site.name);
  if (room) parts.push(room.building ? `${room.building}-${room.name}` : room.name);
  return parts.join(" · ") || (roomId ? `#${roomId}` : "—");
}

/** Return the resident's name, or the alert's subject when the resident is unknown here. */
export function residentName(reg, residentId, fallback = "—") {
  return reg?.residents.get(residentId)?.name ?? (residentId ? `#${residentId}` : fallback);
}
