// A technique's page: send the settings (and the upload) as a job, poll its progress, show what it made.
"use strict";
const $ = (id) => document.getElementById(id);
const form = $("settings");
let jobId = null;
let timer = null;

function show(job) {
  $("job").hidden = false;
  $("progress").value = job.progress;
  $("label").textContent = `${job.state}: ${job.label}`;
  const active = job.state === "queued" || job.state === "running";
  $("cancel").disabled = !active;
  $("generate").disabled = active;
  if (job.state === "failed") $("error").textContent = job.error;
  if (job.state === "done") {
    const base = `/jobs/${job.id}/`;
    $("player").src = base + job.result.audio;
    $("picture").src = base + job.result.image;
    $("lines").replaceChildren(...job.result.lines.map((l) => { const li = document.createElement("li"); li.textContent = l; return li; }));
    $("downloads").replaceChildren(...job.result.downloads.map((f) => {
      const a = document.createElement("a");
      a.href = `${base}${f}?download=1`;
      a.textContent = `download ${f.split(".").pop().toUpperCase()}`;
      a.id = `download-${f.split(".").pop()}`;
      return a;
    }));
    $("result").hidden = false;
  }
  if (!active && timer) { clearInterval(timer); timer = null; }
}

async function poll() {
  const r = await fetch(`/api/jobs/${jobId}`);
  if (r.ok) show(await r.json());
}

$("generate").addEventListener("click", async () => {
  $("error").textContent = "";
  $("result").hidden = true;
  const data = new FormData(form);
  data.append("technique", form.dataset.technique);
  const file = $("file");
  if (file && !file.files.length) data.delete("file");
  const r = await fetch("/api/jobs", { method: "POST", body: data });
  const answer = await r.json();
  if (!r.ok) { $("error").textContent = answer.error; return; }
  jobId = answer.id;
  show(answer);
  timer = setInterval(poll, 400);
});

$("cancel").addEventListener("click", async () => {
  if (!jobId) return;
  const r = await fetch(`/api/jobs/${jobId}/cancel`, { method: "POST" });
  if (r.ok) show(await r.json());
});
