// The live alert queue: one EventSource for the whole console, reconnected on error and on `resync`.

import { freshToken, reachable } from "./api.js";

const OPEN = new Set(["new", "acknowledged", "dispatched"]);
const MAX_BACKOFF_MS = 15_000;

/** Order the duty room works in: priority first (P1 before P2), then the oldest first. */
export function byPriorityThenAge(a, b) {
  return a.priority - b.priority || a.created_at - b.created_at || a.id - b.id;
}

class AlertFeed {
  constructor() {
    this.alerts = new Map();
    this.listeners = new Set();
    this.source = null;
    this.backoff = 1000;
    this.timer = null;
    this.connected = false;
    this.running = false;
  }

  /** Open the stream (idempotent). */
  start() {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** Close the stream and forget the queue (sign-out). */
  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
    this.connected = false;
    this.alerts.clear();
  }

  async connect() {
    clearTimeout(this.timer);
    this.source?.close();
    if (!this.running) return;
    let token;
    try {
      token = await freshToken(); // a reconnect after a long outage must not use an expired token
    } catch {
      this.retry();
      return;
    }
    const source = new EventSource(`/api/alerts/stream?access_token=${encodeURIComponent(token)}`);
    this.source = source;
    source.addEventListener("snapshot", (event) => {
      const { alerts } = JSON.parse(event.data);
      this.alerts = new Map(alerts.map((a) => [a.id, a]));
      this.connected = true;
      this.backoff = 1000;
      reachable("stream", true);
      this.emit({ change: "snapshot" });
    });
    source.addEventListener("alert", (event) => {
      const { change, alert } = JSON.parse(event.data);
      if (OPEN.has(alert.state)) this.alerts.set(alert.id, alert);
      else this.alerts.delete(alert.id);
      this.emit({ change, alert });
    });
    // The hub fell behind for this console: start again from a fresh snapshot.
    source.addEventListener("resync", () => this.connect());
    source.onerror = () => {
      if (source !== this.source) return;
      source.close(); // reconnect ourselves: the browser would reuse a URL whose token may have expired
      this.connected = false;
      reachable("stream", false);
      this.emit({ change: "disconnected" });
      this.retry();
    };
  }

  retry() {
    if (!this.running) return;
    this.timer = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  emit(info) {
    for (const fn of this.listeners) fn(info);
  }

  /** Call fn({change, alert}) on every change; returns the function that unsubscribes. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Return the open alerts in working order. */
  sorted() {
    return [...this.alerts.values()].sort(byPriorityThenAge);
  }
}

export const feed = new AlertFeed();
