// Audible alarm for unacknowledged P1 alerts: a Web Audio beep that repeats until nobody needs to hear it.
// Browsers only start audio after a user gesture, so the toggle button creates the AudioContext.

const SOUND_KEY = "carehub.sound";
const REPEAT_MS = 2000;

let ctx = null;
let ringing = false;
let timer = null;
const listeners = new Set();

/** Return "on", "off", or "blocked" (wanted, but the browser waits for a click). */
export function soundState() {
  if (localStorage.getItem(SOUND_KEY) === "off") return "off";
  return ctx && ctx.state === "running" ? "on" : "blocked";
}

/** Return whether the alarm is ringing (an unacknowledged P1 is open). */
export const isRinging = () => ringing;

/** Call fn() whenever the sound state or ringing changes. */
export const onAlarmChange = (fn) => listeners.add(fn);

function changed() {
  for (const fn of listeners) fn();
}

/** Toggle the sound; must run inside a click handler the first time. */
export async function toggleSound() {
  if (soundState() === "on") {
    localStorage.setItem(SOUND_KEY, "off");
  } else {
    localStorage.setItem(SOUND_KEY, "on");
    await unlock();
  }
  changed();
}

async function unlock() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  ctx = ctx || new Ctx();
  if (ctx.state !== "running") {
    try {
      await ctx.resume();
    } catch {
      /* still blocked: the button keeps saying so */
    }
  }
}

// Any click on the page counts as the gesture, so an operator who forgot the toggle still hears the next P1.
document.addEventListener("pointerdown", () => {
  if (localStorage.getItem(SOUND_KEY) !== "off" && soundState() === "blocked") unlock().then(changed);
}, { capture: true });

function beep() {
  if (soundState() !== "on") return;
  const t0 = ctx.currentTime;
  for (const [offset, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "square";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t0 + offset);
    gain.gain.exponentialRampToValueAtTime(0.25, t0 + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + offset + 0.2);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t0 + offset);
    osc.stop(t0 + offset + 0.22);
  }
}

/** Ring while `active` is true (repeating), stop when it becomes false. */
export function setAlarm(active) {
  if (active === ringing) return;
  ringing = active;
  clearInterval(timer);
  if (active) {
    beep();
    timer = setInterval(beep, REPEAT_MS);
  }
  changed();
}
