// Create an A/B or MOS test from two techniques' finished outputs, then show its links.
"use strict";
const $ = (id) => document.getElementById(id);
const button = $("generate");
if (button) {
  button.addEventListener("click", async () => {
    $("error").textContent = "";
    const r = await fetch("/api/tests", { method: "POST", body: new FormData($("test-form")) });
    const answer = await r.json();
    if (!r.ok) { $("error").textContent = answer.error; return; }
    const url = new URL(answer.listen, window.location.href).href;
    $("listen-link").href = answer.listen;
    $("listen-link").textContent = url;
    $("results-link").href = answer.results;
    $("links").hidden = false;
  });
}
