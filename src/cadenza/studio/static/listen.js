// The listener's page: every stimulus decoded up front into one AudioContext; playback loops, and switching to
// another slot starts it at the same position on the audio clock (sample-accurate, with a 5 ms crossfade), as
// MUSHRA asks. Scores are posted as JSON; the page moves on only after the server says they are stored.
"use strict";
const config = JSON.parse(document.getElementById("config").textContent);
const ctx = new AudioContext();
const buffers = {};
const plays = {};
const started = performance.now();
let current = null; // {src, gain, slot}
let origin = 0; // audio-clock time at which the loop region last started

function $(id) { return document.getElementById(id); }
function say(text, cls) { const m = $("message"); m.textContent = text; m.className = cls || "muted"; }

async function load() {
  const all = config.slots.map((s) => [s.slot, s.url]);
  if (config.reference) all.push(["REF", config.reference]);
  await Promise.all(all.map(async ([slot, url]) => {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`stimulus ${slot}: HTTP ${r.status}`);
    buffers[slot] = await ctx.decodeAudioData(await r.arrayBuffer());
    plays[slot] = 0;
  }));
  document.querySelectorAll("button.play").forEach((b) => { b.disabled = false; });
  $("status").textContent = "ready";
}

function region(buf) {
  // the loop region in seconds (MUSHRA pages have "loop from / to" sliders in percent; elsewhere the whole clip)
  const from = $("loop-from") ? Number($("loop-from").value) / 100 : 0;
  const to = $("loop-to") ? Number($("loop-to").value) / 100 : 1;
  const a = Math.min(from, to) * buf.duration;
  const b = Math.max(Math.max(from, to) * buf.duration, a + 0.25);
  return [a, Math.min(b, buf.duration)];
}

function play(slot, restart) {
  if (ctx.state === "suspended") ctx.resume();
  const buf = buffers[slot];
  const [a, b] = region(buf);
  const now = ctx.currentTime + 0.005;
  let offset = a;
  if (current) {
    if (!restart) offset = a + (((now - origin) % (b - a)) + (b - a)) % (b - a);
    current.gain.gain.setTargetAtTime(0, now, 0.0015);
    current.src.stop(now + 0.01);
  }
  if (!current || restart) origin = now;
  const src = ctx.createBufferSource();
  src.buffer = buf;
  src.loop = true;
  src.loopStart = a;
  src.loopEnd = b;
  const gain = ctx.createGain();
  gain.gain.setValueAtTime(0, now);
  gain.gain.setTargetAtTime(1, now, 0.0015);
  src.connect(gain).connect(ctx.destination);
  src.start(now, offset);
  current = { src, gain, slot };
  if (!restart) plays[slot] += 1;
  document.querySelectorAll("button.play").forEach((b) => b.classList.toggle("playing", b.dataset.slot === slot));
  $("status").textContent = `playing ${slot === "REF" ? "the reference" : slot}`;
  check();
}

function stop() {
  if (current) { current.src.stop(); current = null; }
  document.querySelectorAll("button.play").forEach((b) => b.classList.remove("playing"));
  $("status").textContent = "stopped";
}

function choice() { const c = document.querySelector("input[name=choice]:checked"); return c ? c.value : null; }

function check() {
  const heard = config.slots.every((s) => plays[s.slot] > 0);
  const ready = heard && (config.type === "mushra" || choice() !== null);
  $("submit").disabled = !ready;
  if (!heard) say(config.type === "mos" ? "Play the excerpt before you rate it." : "Play every version first.");
  else if (!ready) say("Now choose.");
  else say("Ready to submit.");
}

async function submit() {
  const scores = {};
  if (config.type === "mushra") {
    config.slots.forEach((s) => { scores[s.slot] = Number($(`score-${s.slot}`).value); });
  } else if (config.type === "ab") {
    config.slots.forEach((s) => { scores[s.slot] = s.slot === choice() ? 1 : 0; });
  } else {
    scores.A = Number(choice());
  }
  const playsOut = {};
  config.slots.forEach((s) => { playsOut[s.slot] = plays[s.slot]; });
  $("submit").disabled = true;
  say("storing…");
  const body = JSON.stringify({ screen: config.screen, scores, plays: playsOut,
                                seconds: (performance.now() - started) / 1000 });
  try {
    const r = await fetch(config.rate_url, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const answer = await r.json();
    if (!r.ok) { say(answer.error || `error ${r.status}`, "error"); return; }
    stop();
    say("stored", "ok");
    window.location.assign(answer.next);
  } catch (e) {
    say(`not stored (${e}); try again`, "error");
    $("submit").disabled = false;
  }
}

document.querySelectorAll("button.play").forEach((b) => b.addEventListener("click", () => play(b.dataset.slot)));
document.querySelectorAll("input.slider").forEach((s) => s.addEventListener("input", () => {
  $(`value-${s.dataset.slot}`).textContent = s.value;
}));
document.querySelectorAll("input[name=choice]").forEach((c) => c.addEventListener("change", check));
$("stop").addEventListener("click", stop);
["loop-from", "loop-to"].forEach((id) => {
  if (!$(id)) return;
  $(id).addEventListener("input", () => {
    const buf = buffers.REF || buffers.A;
    if (buf) {
      const [a, b] = region(buf);
      $("loop-label").textContent = `${a.toFixed(1)}–${b.toFixed(1)} s`;
    }
    if (current) play(current.slot, true); // the new region, from its start
  });
});
$("submit").addEventListener("click", submit);
document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" && e.target.type !== "range") return;
  const k = e.key.toUpperCase();
  if (k === " ") { e.preventDefault(); stop(); } else if (k === "R" && buffers.REF) play("REF");
  else if (buffers[k] && k !== "REF") play(k);
});
load().catch((e) => { $("status").textContent = `could not load the audio: ${e}`; $("status").className = "error"; });
