// The reverse-engineering page: post the score, show the guesses and the telling features.
"use strict";
const $ = (id) => document.getElementById(id);

function row(cells, header) {
  const tr = document.createElement("tr");
  cells.forEach((c) => { const td = document.createElement(header ? "th" : "td"); td.textContent = c; tr.append(td); });
  return tr;
}

$("generate").addEventListener("click", async () => {
  $("error").textContent = "";
  $("result").hidden = true;
  if (!$("file").files.length) { $("error").textContent = "choose a score file first"; return; }
  const r = await fetch("/api/attribute", { method: "POST", body: new FormData($("attribute-form")) });
  const answer = await r.json();
  if (!r.ok) { $("error").textContent = answer.error; return; }
  $("guesses").replaceChildren(row(["probability", "technique", "setting"], true),
    ...answer.guesses.map((g) => row([`${(100 * g.probability).toFixed(1)}%`, g.technique, g.setting || "–"])));
  const top = answer.guesses.slice(0, 3).map((g) => g.label);
  $("features").replaceChildren(row(["feature", "this piece", ...top.map((t) => `typical ${t}`)], true),
    ...answer.features.slice(0, 10).map((f) => row([f.feature, f.value.toFixed(3), ...top.map((t) => f[t].toFixed(3))])));
  $("result").hidden = false;
});
