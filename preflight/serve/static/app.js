// preflight serve: the page. Plain JS, no build step, nothing from elsewhere (CSP script-src 'self').
// Every state-changing call carries the per-process CSRF token from the page's <meta>; long operations
// are asked for asynchronously (Prefer: respond-async) and their jobs polled for progress.
"use strict";

const $ = (id) => document.getElementById(id);
const CSRF = document.querySelector('meta[name="preflight-csrf"]').content;
const state = { image: null, video: null, config: null, timeline: null, win: null, check: null, bundle: null, bundleKey: null };

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function api(method, url, body, extra) {
  const headers = { "X-Preflight-CSRF": CSRF, "Prefer": "respond-async", ...(extra || {}) };
  if (body && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  const response = await fetch(url, { method, headers, body, credentials: "same-origin" });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (response.status === 401) { showLogin(); }
  if (!response.ok) {
    const err = (data && data.error) || { code: "http." + response.status, message: response.statusText };
    throw Object.assign(new Error(err.code + ": " + err.message), { code: err.code, data });
  }
  return { status: response.status, data };
}

function showError(e) { $("error").textContent = e ? (e.message || String(e)) : ""; }

// ---- progress ---------------------------------------------------------------------------------------
let ticker = null;
function progressStart(label) {
  const started = Date.now();
  $("progress-box").hidden = false;
  $("progress").removeAttribute("value");
  $("stage").textContent = label;
  clearInterval(ticker);
  ticker = setInterval(() => { $("elapsed").textContent = ((Date.now() - started) / 1000).toFixed(0) + " s"; }, 250);
}
function progressShow(p) {
  if (!p) return;
  $("stage").textContent = p.stage;
  if (p.total > 0) { $("progress").max = p.total; $("progress").value = Math.min(p.done, p.total); }
}
function progressEnd() { clearInterval(ticker); $("progress-box").hidden = true; }

async function runJob(url, form, label) {
  progressStart(label);
  try {
    const first = await api("POST", url, form);
    let job = first.data;
    if (first.status === 202) {
      const statusUrl = job.status_url;
      for (;;) {
        await new Promise((r) => setTimeout(r, 400));
        job = (await api("GET", statusUrl)).data;
        progressShow(job.progress);
        if (job.state === "done" || job.state === "failed") break;
      }
    }
    if (job.state === "failed") throw Object.assign(new Error(job.error.code + ": " + job.error.message), job.error);
    return job;
  } finally { progressEnd(); }
}

// ---- settings -----------------------------------------------------------------------------------------
function fillSelect(select, values, chosen, labels) {
  select.replaceChildren(...values.map((v) => {
    const o = el("option", labels ? labels(v) : v); o.value = v; if (v === chosen) o.selected = true; return o;
  }));
}

async function loadConfig() {
  let config;
  try { config = (await api("GET", "/v1/config")).data; } catch (e) { if (e.code !== "serve.unauthorized") showError(e); return; }
  state.config = config;
  $("login").hidden = true; $("app").hidden = false;
  fillSelect($("model"), config.models, config.defaults.model);
  const providers = config.providers.map((p) => p.name);
  fillSelect($("provider"), ["", ...providers], config.defaults.provider || "", (v) => v || "(the model's own)");
  fillSelect($("orientation"), ["video", "image"], config.defaults.orientation);
  fillSelect($("submit-provider"), providers, config.defaults.provider || providers[0],
    (v) => v + (config.providers.find((p) => p.name === v).key_configured ? "" : " (no key)"));
  $("profile-name").textContent = "profile " + config.defaults.profile;
  updateModes();
  refreshLedger();
}

function updateModes() {
  const c = state.config; if (!c) return;
  const prov = c.providers.find((p) => p.name === $("submit-provider").value);
  const route = prov && prov.models[$("model").value];
  fillSelect($("submit-mode"), route ? route.modes : [], route ? route.default_mode : null);
  $("key-state").textContent = !prov ? "" : prov.key_configured ? "key configured on the server"
    : "no key on the server: dry run only";
  $("key-state").className = prov && prov.key_configured ? "" : "muted";
  $("submit").disabled = true; $("accept-cost").checked = false; $("cost-box").hidden = true;
  if (!route && prov) $("key-state").textContent += " · " + prov.name + " does not serve " + $("model").value;
}

function showLogin() {
  $("login").hidden = false; $("app").hidden = true;
}

// ---- choosing files ------------------------------------------------------------------------------------
function setFile(role, file) {
  state[role] = file;
  $(role + "-name").textContent = file ? file.name + " (" + (file.size / 1e6).toFixed(1) + " MB)" : "no " + (role === "image" ? "image" : "clip");
  $("check").disabled = !(state.image || state.video);
  state.bundle = null;
  if (role === "video" && file) { $("preview").src = URL.createObjectURL(file); }
}

function takeFiles(files) {
  for (const f of files) {
    const role = f.type.startsWith("image/") ? "image" : f.type.startsWith("video/") ? "video"
      : (!state.image ? "image" : "video");
    setFile(role, f);
  }
}

function params(extra) {
  const q = new URLSearchParams();
  q.set("model", $("model").value);
  if ($("provider").value) q.set("provider", $("provider").value);
  q.set("orientation", $("orientation").value);
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return "?" + q.toString();
}

function uploadForm(fields) {
  const form = new FormData();
  if (state.image) form.append("image", state.image, state.image.name);
  if (state.video) form.append("video", state.video, state.video.name);
  for (const [k, v] of Object.entries(fields || {})) form.append(k, v);
  return form;
}

// ---- check ------------------------------------------------------------------------------------------
async function runCheck() {
  showError(null);
  $("results").hidden = true;
  try {
    const job = await runJob("/v1/check" + params({ content: $("content").checked ? "true" : "false" }), uploadForm(), "uploading");
    state.check = job;
    showReport(job);
  } catch (e) { showError(e); }
}

function showFindings(list, findings) {
  list.replaceChildren(...findings.map((f) => {
    const li = el("li", null, "sev-" + f.severity);
    li.append(el("code", f.code), document.createTextNode(" " + f.severity + ": " + f.message));
    return li;
  }));
  if (!findings.length) list.replaceChildren(el("li", "no findings"));
}

function showReport(job) {
  const report = job.result.report;
  const files = new Set((job.files || []).map((f) => f.name));
  $("results").hidden = false;
  const pairCodes = ["orientation.mismatch", "framing.mismatch"];
  const pair = [];
  for (const role of ["image", "video"]) $("card-" + role).hidden = true;
  const roles = Object.entries(job.inputs);
  report.items.forEach((item, n) => {
    const role = roles[n] ? roles[n][0] : item.role;
    const card = $("card-" + role);
    if (!card) return;
    card.hidden = false;
    const verdict = card.querySelector(".verdict");
    verdict.textContent = item.verdict + (item.pose_checked === false ? " (pose not checked)" : "");
    verdict.className = "verdict " + item.verdict;
    card.querySelector(".name").textContent = item.path;
    showFindings(card.querySelector(".findings"), item.findings.filter((f) => !pairCodes.includes(f.code)));
    pair.push(...item.findings.filter((f) => pairCodes.includes(f.code)));
    const picture = card.querySelector(".picture");
    const name = role === "video" ? "sheet.png" : "image-pose.jpg";
    picture.hidden = !files.has(name);
    if (files.has(name)) picture.src = "/v1/jobs/" + job.id + "/files/" + name + "?inline=1";
  });
  $("pair").hidden = !(state.image && state.video);
  showFindings($("pair").querySelector(".findings"), pair);
  state.timeline = job.result.timeline;
  $("timeline-box").hidden = !state.timeline;
  if (state.timeline) setWindow(state.timeline.suggested.start, state.timeline.suggested.end, state.timeline.suggested.why);
  $("outputs").replaceChildren();
}

// ---- timeline -----------------------------------------------------------------------------------------
function setWindow(start, end, why) {
  const t = state.timeline;
  for (const id of ["win-start", "win-end"]) { $(id).max = t.duration; }
  $("win-start").value = start; $("win-end").value = end;
  state.win = { start, end };
  $("win-why").textContent = why || "";
  drawTimeline();
}

function windowValues() {
  return { start: parseFloat($("win-start").value), end: parseFloat($("win-end").value) };
}

function onWindow(moved) {
  // The start slider slides the window (its length kept while the clip allows); the end slider resizes it.
  const t = state.timeline; if (!t) return;
  let { start, end } = windowValues();
  const longest = t.max_length || t.duration;
  const shortest = Math.min(t.min_length || 0.1, t.duration);
  if (moved === "start") {
    end = Math.min(t.duration, start + (state.win.end - state.win.start));
    if (end - start < shortest) start = Math.max(0, end - shortest);
  } else {
    if (end - start > longest) start = Math.max(0, end - longest);
    if (end - start < shortest) start = Math.max(0, end - shortest);
    if (end - start < shortest) end = Math.min(t.duration, start + shortest);
  }
  $("win-start").value = start; $("win-end").value = end;
  state.win = { start, end };
  $("win-why").textContent = "your window";
  state.bundle = null;
  drawTimeline();
  const video = $("preview");
  if (video.src) video.currentTime = moved === "start" ? start : end;
}

function drawTimeline() {
  const t = state.timeline, canvas = $("timeline"), g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, x = (s) => (s / t.duration) * w;
  g.clearRect(0, 0, w, h);
  g.fillStyle = "#eee"; g.fillRect(0, 16, w, h - 32);
  const samples = t.samples;
  samples.forEach((s, n) => {
    const next = n + 1 < samples.length ? samples[n + 1][0] : t.duration;
    g.fillStyle = s[2] ? "#2e9e50" : s[1] ? "#e0a030" : "#bbb";
    g.fillRect(x(s[0]), 16, Math.max(1, x(next) - x(s[0])), h - 32);
  });
  g.fillStyle = "#b3261e";
  for (const c of t.cuts) g.fillRect(x(c) - 1, 8, 3, h - 16);
  const { start, end } = windowValues();
  g.strokeStyle = "#1040c0"; g.lineWidth = 3; g.strokeRect(x(start), 3, x(end) - x(start), h - 6);
  g.fillStyle = "rgba(16,64,192,0.12)"; g.fillRect(x(start), 3, x(end) - x(start), h - 6);
  $("win-text").textContent = start.toFixed(1) + "–" + end.toFixed(1) + " s (" + (end - start).toFixed(1) + " s)";
}

function windowFields() {
  if (!state.timeline || !state.video) return {};
  const { start, end } = windowValues();
  const s = state.timeline.suggested;
  if (Math.abs(start - s.start) < 0.05 && Math.abs(end - s.end) < 0.05) return {};
  return { start: start.toFixed(2), end: end.toFixed(2) };
}

// ---- fix ------------------------------------------------------------------------------------------------
function fixChoices() {
  const choices = { aspect: $("aspect").value, stabilize: $("stabilize").checked ? "true" : "false" };
  if ($("reframe").value !== "none") { choices.reframe = $("reframe").value; choices.person = $("person").value; }
  return choices;
}

async function runFix() {
  showError(null);
  try {
    const job = await runJob("/v1/fix" + params(fixChoices()), uploadForm(windowFields()), "uploading");
    const outputs = job.result.outputs;
    const list = $("outputs");
    list.replaceChildren(...outputs.map((o) => {
      const li = el("li");
      const a = el("a", "download " + o.download_name);
      a.href = "/v1/jobs/" + job.id + "/files/" + o.name; a.setAttribute("download", o.download_name);
      a.className = "download";
      li.append(a, document.createTextNode(" · output " + (o.verdict || "")));
      if (o.reframe_preview) {
        const img = el("img"); img.className = "reframe";
        img.alt = "before and after the reframe crop"; img.src = "/v1/jobs/" + job.id + "/files/" + o.reframe_preview + "?inline=1";
        li.append(el("br"), img);
      }
      return li;
    }));
    const items = job.result.report.items;
    for (const item of items) {
      if (!item.output) list.append(el("li", item.path + ": not fixed: " + (item.reason || ""), "bad"));
    }
  } catch (e) { showError(e); }
}

// ---- submit -------------------------------------------------------------------------------------------
async function ensureBundle() {
  const key = JSON.stringify([params(), windowFields(), fixChoices()]);
  if (state.bundle && state.bundleKey === key) return state.bundle;
  const job = await runJob("/v1/prepare" + params(fixChoices()), uploadForm(windowFields()), "preparing the pair");
  if (!job.result.report.ok) {
    const bad = job.result.report.fix.items.map((i) => i.path + ": " + (i.reason || i.verdict)).join("; ");
    throw new Error("the pair could not be prepared: " + bad);
  }
  state.bundle = job.id; state.bundleKey = key;
  return job.id;
}

function submitBody(extra) {
  return { bundle: state.bundle, provider: $("submit-provider").value, model: $("model").value,
    mode: $("submit-mode").value || null, prompt: $("prompt").value || null, ...extra };
}

async function dryRun() {
  showError(null);
  $("cost-box").hidden = true; $("submit").disabled = true; $("accept-cost").checked = false;
  if (!(state.image && state.video)) { showError(new Error("submit needs an image and a clip")); return; }
  try {
    await ensureBundle();
    progressStart("dry run");
    let answer;
    try { answer = (await api("POST", "/v1/submit", submitBody({ dry_run: true }))).data; } finally { progressEnd(); }
    $("cost").textContent = answer.cost.line + (answer.earlier.length ? " · submitted before as job " + answer.earlier[0].id : "");
    $("requests").textContent = answer.requests;
    $("cost-box").hidden = false;
  } catch (e) { showError(e); }
}

async function realSubmit() {
  showError(null);
  try {
    const job = await runJob("/v1/submit", submitBody({ confirm: true }), "submitting");
    const row = job.result.ledger_job;
    $("submitted").textContent = "job " + row.id + ": " + row.provider + " task " + (row.task_id || "-") + " (" + row.status + ")";
    $("submit").disabled = true; $("accept-cost").checked = false;
    refreshLedger();
  } catch (e) { showError(e); }
}

// ---- jobs (the ledger) ---------------------------------------------------------------------------------
async function refreshLedger() {
  let rows;
  try { rows = (await api("GET", "/v1/ledger")).data.jobs; } catch (e) { return; }
  $("jobs").tBodies[0].replaceChildren(...rows.map((j) => {
    const tr = el("tr");
    const cost = j.cost_estimate === null || j.cost_estimate === undefined ? "" : "$" + Number(j.cost_estimate).toFixed(2);
    for (const v of [j.id, j.provider, j.status, j.task_id || "-", j.created_at, cost]) tr.append(el("td", v));
    const td = el("td");
    if (j.task_id && !["succeeded", "failed", "canceled"].includes(j.status)) {
      const b = el("button", "poll now");
      b.addEventListener("click", async () => { try { await api("POST", "/v1/ledger/" + j.id + "/refresh"); refreshLedger(); } catch (e) { showError(e); } });
      td.append(b);
    }
    tr.append(td);
    return tr;
  }));
}

// ---- wiring ---------------------------------------------------------------------------------------------
function wire() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); takeFiles(e.dataTransfer.files); });
  $("image-file").addEventListener("change", (e) => setFile("image", e.target.files[0] || null));
  $("video-file").addEventListener("change", (e) => setFile("video", e.target.files[0] || null));
  $("check").addEventListener("click", runCheck);
  $("win-start").addEventListener("input", () => onWindow("start"));
  $("win-end").addEventListener("input", () => onWindow("end"));
  $("win-reset").addEventListener("click", () => { const s = state.timeline.suggested; setWindow(s.start, s.end, s.why); });
  $("fix").addEventListener("click", runFix);
  $("dry-run").addEventListener("click", dryRun);
  $("accept-cost").addEventListener("change", () => {
    const prov = state.config.providers.find((p) => p.name === $("submit-provider").value);
    $("submit").disabled = !($("accept-cost").checked && prov && prov.key_configured);
  });
  $("submit").addEventListener("click", realSubmit);
  for (const id of ["submit-provider", "model"]) $(id).addEventListener("change", updateModes);
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await api("POST", "/v1/session", { token: $("token").value }); $("login-error").textContent = ""; loadConfig(); }
    catch (err) { $("login-error").textContent = err.message; }
  });
  setInterval(() => { if (!document.hidden && state.config) refreshLedger(); }, 3000);
  loadConfig();
}

document.addEventListener("DOMContentLoaded", wire);
