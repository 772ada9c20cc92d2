// The dashboard page: polls the /api endpoints once a second and redraws what changed. The charts are SVG rendered by the
// server and inlined here; nothing is fetched from anywhere but this server.
"use strict";
const $ = id => document.getElementById(id);
const fmt = (v, digits) => v === null || v === undefined ? "–" : v.toFixed(digits);
const pct = v => v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%";
const esc = s => String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const duration = s => {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(sec).padStart(2, "0")}s`;
};
const size = b => b >= 1 << 20 ? (b / (1 << 20)).toFixed(1) + " MiB" : (b / 1024).toFixed(1) + " KiB";
const seen = { step: -1, evaluations: -1, historyEvents: -1, lossDrawn: 0 };

async function get(path, as) {
  const r = await fetch(path, { cache: "no-store" });
  if (r.status === 401) throw new Error((await r.json()).reason);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return as === "text" ? r.text() : r.json();
}

async function chart(id, path, version) {
  const el = $(id);
  if (el.dataset.version === String(version)) return;
  el.innerHTML = await get(path, "text");
  el.dataset.version = String(version);
}

function drawRun(run) {
  $("run-id").textContent = run.runId;
  document.title = `${run.runId} · step ${run.step} · ImageGpt`;
  const phase = $("phase");
  phase.textContent = run.phase;
  phase.className = "badge " + run.phase;
  $("liveness").textContent = run.live ? `pid ${run.pid ?? "?"}` : "process not running";
  $("progress-bar").style.width = run.totalSteps > 0 ? `${100 * run.step / run.totalSteps}%` : "0";
  $("step").textContent = `${run.step} / ${run.totalSteps}`;
  $("eta").textContent = duration(run.etaSeconds);
  $("tokens").textContent = run.tokensPerSecond === null ? "–" : (run.tokensPerSecond / 1000).toFixed(1) + "k";
  $("mfu").textContent = pct(run.mfu);
  $("busy").textContent = pct(run.trainerBusy);
  $("wait").textContent = pct(run.dataWait);
  $("loss").textContent = run.loss === null ? "–" : `${fmt(run.loss, 4)} nats · ${fmt(run.lossBits, 3)} bits`;
  $("lr").textContent = run.lr === null ? "–" : `${run.lr.toExponential(2)} · ${run.epoch ?? "–"}`;
  $("elapsed").textContent = duration(run.elapsedSeconds);
  $("ended").textContent = [run.ended, run.error].filter(x => x).join(" · ");
}

function drawCluster(cluster) {
  $("members").tBodies[0].innerHTML = cluster.members.map(m =>
    `<tr><td>${esc(m.address)}</td><td>${esc(m.roles.join(", "))}</td><td>${esc(m.status)}</td><td>${m.reachable ? "yes" : "no"}</td>` +
    `<td>${m.leader ? "yes" : ""}</td><td>${esc(m.singletons.join(", "))}</td></tr>`).join("");
  $("nodes").innerHTML = cluster.members.filter(m => m.actors).map(m => {
    const a = m.actors;
    const rows = a.actors.map(x => {
      const local = x.path.replace(/^[a-z]+:\/\/[^/]+/, "");
      const depth = Math.max(0, local.split("/").length - 2);
      const cls = x.state === "Restarting" || x.state === "Failed" ? "unhealthy" : x.state === "Stopped" ? "stopped" : "";
      const failure = x.lastFailure ? `${x.lastFailure.exceptionType}: ${x.lastFailure.message} (${x.lastFailure.atUtc.replace("T", " ").slice(0, 19)}Z)` : "–";
      return `<tr class="${cls}" data-path="${esc(local)}" data-state="${x.state}"><td class="path">${"  ".repeat(depth)}${esc(local)}</td><td>${esc(x.actorType)}</td>` +
        `<td><span class="state ${x.state}">${x.state}</span></td><td class="num">${x.mailboxDepth}</td><td class="num">${x.messagesPerSecond.toFixed(1)}</td>` +
        `<td class="num">${x.messagesProcessed}</td><td class="num">${x.restarts}</td><td>${esc(failure)}</td></tr>`;
    }).join("");
    return `<h3>actors of ${esc(m.address)} <span class="muted">(${a.actors.length}, dead letters <span class="dead-letters">${a.deadLetters}</span>)</span></h3>` +
      `<table class="actors"><thead><tr><th>path</th><th>type</th><th>state</th><th>mailbox</th><th>msgs/s</th><th>processed</th><th>restarts</th><th>last failure</th></tr></thead><tbody>${rows}</tbody></table>`;
  }).join("");
}

function drawEvaluations(evals) {
  const last = evals[evals.length - 1];
  const table = $("probe-table");
  if (!last || last.probe.length === 0) { table.tHead.innerHTML = ""; table.tBodies[0].innerHTML = ""; }
  else {
    // The raw-pixel baseline does not depend on the weights: the evaluator measures it once per process.
    const raw = evals.filter(e => e.rawPixels).map(e => e.rawPixels).pop();
    const rows = raw ? [...last.probe, raw] : last.probe;
    table.tHead.innerHTML = `<tr><th>layer (step ${last.step})</th><th>best C</th><th>val %</th><th>test %</th></tr>`;
    table.tBodies[0].innerHTML = rows.map(p => `<tr><td>${esc(p.layer)}</td><td class="num">${p.bestC.toPrecision(3)}</td>` +
      `<td class="num">${(100 * p.validation).toFixed(2)}</td><td class="num">${(100 * p.test).toFixed(2)}</td></tr>`).join("");
  }
  $("completions").innerHTML = evals.filter(e => e.completions).reverse().map(e =>
    `<figure><figcaption>step ${e.step}${e.validationBits === null ? "" : ` · ${e.validationBits.toFixed(3)} bits/token`}</figcaption>` +
    `<img src="${e.completions}" alt="completions at step ${e.step}" loading="lazy"></figure>`).join("");
}

function drawCheckpoints(checkpoints) {
  $("checkpoint-table").tBodies[0].innerHTML = checkpoints.slice().reverse().map(c =>
    `<tr><td class="num">${c.step}</td><td class="num">${c.epoch}</td><td>${c.at.replace("T", " ").slice(0, 19)}</td><td class="num">${size(c.bytes)}</td>` +
    `<td class="sha" title="${c.sha256}">${c.sha256.slice(0, 16)}…</td><td>${c.safetensors ? `<a href="${c.safetensors}">step-${c.step}.safetensors</a>` : "–"}</td></tr>`).join("");
}

async function poll() {
  try {
    const [run, cluster] = await Promise.all([get("/api/run"), get("/api/cluster")]);
    drawRun(run);
    drawCluster(cluster);
    const now = Date.now();
    if (run.step !== seen.step && now - seen.lossDrawn > 2000 || run.evaluations !== seen.evaluations) {
      await chart("loss-chart", "/charts/loss.svg", `${run.step}-${run.evaluations}`);
      seen.lossDrawn = now;
      seen.step = run.step;
    }
    if (run.evaluations !== seen.evaluations) {
      drawEvaluations(await get("/api/evaluations"));
      await chart("probe-chart", "/charts/probe.svg", run.evaluations);
      await chart("validation-chart", "/charts/validation-vs-probe.svg", run.evaluations);
      seen.evaluations = run.evaluations;
    }
    if (run.historyEvents !== seen.historyEvents) {
      drawCheckpoints(await get("/api/checkpoints"));
      seen.historyEvents = run.historyEvents;
    }
    $("problem").hidden = true;
  } catch (e) {
    $("problem").textContent = e.message;
    $("problem").hidden = false;
  }
  setTimeout(poll, 1000);
}
poll();
