// preflight serve: the page. Plain JS, no build step, nothing from elsewhere (CSP script-src 'self').
// Every state-changing call carries the per-process CSRF token from the page's <meta>. Long operations are
// jobs on the server: the page asks for them asynchronously (Prefer: respond-async), shows their progress
// beside the control that started them (disabled meanwhile, with Cancel), and keeps their ids in the URL and
// in localStorage, so a reload or a reopened tab shows them again. Texts come in the server's plain words
// (result.page, error.text): no command-line flags, no server paths.
"use strict";

const $ = (id) => document.getElementById(id);
const CSRF = document.querySelector('meta[name="preflight-csrf"]').content;
const NOUN = { image: "photo", video: "clip" };
const ORIENT = { video: "follow the clip", image: "follow the photo" };
const SEVERITY = { error: "problem", warning: "warning", info: "note" };
const VERDICT = { pass: "passes", fixable: "fixable", fail: "fails" };
const SAVE_KEY = "preflight.page";
const SLOTS = ["check", "fix", "prepare", "submit"];
const POLL_MS = 400;

const state = {
  config: null,
  pending: { image: null, video: null }, // files chosen here and not yet on the server
  names: { image: null, video: null },   // what the page works on (the client's file names)
  source: null,                           // a finished job that holds the uploads (fix, prepare, re-checks use it)
  check: null, fix: null, prepare: null, submit: null, // the jobs shown
  prepareKey: null,
  timeline: null, win: null, savedWin: null,
  runs: {},                               // slot -> the job running in it
};

// ---- small helpers ------------------------------------------------------------------------------------
function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes) => bytes < 1e6 ? Math.max(1, Math.round(bytes / 1e3)) + " kB" : (bytes / 1e6).toFixed(1) + " MB";

class PageError extends Error {
  constructor(text, code, status) { super(text); this.code = code || null; this.status = status || 0; }
}
const CANCELLED = "cancelled";

function errorOf(err, status) {
  err = err || {};
  return new PageError(err.text || err.message || err.code || "the server refused (HTTP " + status + ")", err.code, status);
}

async function api(method, url, body, extra) {
  const headers = { "X-Preflight-CSRF": CSRF, "Prefer": "respond-async", ...(extra || {}) };
  if (body && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body, credentials: "same-origin" });
  } catch (e) {
    throw new PageError("the server could not be reached: is it still running?", "network");
  }
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (response.status === 401) showLogin();
  if (!response.ok) throw errorOf(data && data.error, response.status);
  return { status: response.status, data };
}

// Uploads go through XMLHttpRequest: fetch cannot tell how much of a 60 MB clip has been sent.
function upload(url, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-Preflight-CSRF", CSRF);
    xhr.setRequestHeader("Prefer", "respond-async");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onerror = () => reject(new PageError("the upload did not reach the server: is it still running?", "network"));
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status === 401) showLogin();
      if (xhr.status >= 400) reject(errorOf(data && data.error, xhr.status));
      else resolve({ status: xhr.status, data });
    };
    xhr.send(form);
  });
}

// ---- where a job shows: a status box beside its control ---------------------------------------------------
const PLACES = {
  check: { status: "check-status", buttons: ["check"], what: "the check" },
  fix: { status: "fix-status", buttons: ["fix", "aspect", "reframe", "stabilize"], what: "the fix" },
  prepare: { status: "dry-status", buttons: ["dry-run"], what: "preparing the pair" },
  dry: { status: "dry-status", buttons: ["dry-run"], what: "the dry run" },
  submit: { status: "submit-status", buttons: ["submit"], what: "the submit" },
  preview: { status: "preview-status", buttons: [], what: "the preview" },
};

function statusParts(box) {
  if (!box.querySelector(".says")) {
    const line = el("div", null, "line");
    const bar = el("progress");
    bar.max = 1;
    bar.setAttribute("aria-label", (box.dataset.what || "job") + " progress");
    const cancel = el("button", "Cancel", "cancel");
    cancel.type = "button";
    cancel.setAttribute("aria-label", "Cancel " + (box.dataset.what || "the job"));
    line.append(bar, el("span", null, "elapsed muted"), cancel);
    const says = el("p", null, "says");
    says.setAttribute("role", "status");
    const error = el("p", null, "bad error");
    error.setAttribute("role", "alert");
    box.append(says, line, error);
    line.hidden = true;
  }
  return { line: box.querySelector(".line"), bar: box.querySelector("progress"), elapsed: box.querySelector(".elapsed"),
    cancel: box.querySelector(".cancel"), says: box.querySelector(".says"), error: box.querySelector(".error") };
}

function place(slot, box) {
  const where = PLACES[slot] || {};
  const status = box || $(where.status);
  status.dataset.what = where.what || "the job";
  return { status, buttons: (where.buttons || []).map($), what: where.what || "the job" };
}

function say(slot, text, box) {
  const parts = statusParts(place(slot, box).status);
  parts.says.textContent = text || "";
  parts.error.replaceChildren();
}

function fail(slot, e, box) {
  const parts = statusParts(place(slot, box).status);
  parts.line.hidden = true;
  if (e && e.message === CANCELLED) {
    parts.says.textContent = "cancelled: nothing of it was kept"; parts.error.replaceChildren(); return;
  }
  parts.says.textContent = "";
  parts.error.replaceChildren(el("span", e ? e.message || String(e) : ""));
  if (e && e.code) parts.error.append(" ", el("code", e.code, "muted"));
  parts.error.scrollIntoView({ block: "nearest" });
}

// Run one job in ``slot``: its control disabled, its progress and Cancel beside it, its id kept for a reload.
async function runJob(slot, start, box) {
  if (state.runs[slot]) return null; // a second click while it runs does nothing (the control is disabled too)
  const where = place(slot, box);
  const run = { slot, id: null, cancelled: false, started: Date.now() };
  state.runs[slot] = run;
  const parts = statusParts(where.status);
  where.buttons.forEach((b) => { b.disabled = true; });
  parts.error.replaceChildren();
  parts.line.hidden = false;
  parts.cancel.hidden = true;
  parts.bar.removeAttribute("value");
  parts.says.textContent = "starting " + where.what + "…";
  parts.cancel.onclick = () => cancel(run);
  const ticker = setInterval(() => { parts.elapsed.textContent = ((Date.now() - run.started) / 1000).toFixed(0) + " s"; }, 250);
  where.status.scrollIntoView({ block: "nearest" });
  try {
    const first = await start((done, total) => {
      parts.bar.max = total; parts.bar.value = done;
      parts.says.textContent = "uploading: " + mb(done) + " of " + mb(total);
    });
    if (run.cancelled) throw new PageError(CANCELLED);
    if (first.status !== 202) return first.data;
    run.id = first.data.job;
    parts.cancel.hidden = false;
    persist();
    refreshHistory();
    return await follow(run, parts);
  } finally {
    clearInterval(ticker);
    delete state.runs[slot];
    where.buttons.forEach((b) => { b.disabled = false; });
    parts.line.hidden = true;
    refreshButtons();
    persist();
    if (run.id) refreshHistory();
  }
}

async function follow(run, parts) {
  let stage = null;
  for (;;) {
    await sleep(POLL_MS);
    if (run.cancelled) throw new PageError(CANCELLED);
    let job;
    try { job = (await api("GET", "/v1/jobs/" + run.id)).data; }
    catch (e) {
      if (run.cancelled) throw new PageError(CANCELLED);
      if (e.code === "job.not_found") throw new PageError("the server no longer has this job (it keeps them an hour)", e.code);
      throw e;
    }
    const p = job.progress;
    if (p && p.stage !== stage) { stage = p.stage; parts.says.textContent = p.stage; }
    if (p && p.total > 0) { parts.bar.max = p.total; parts.bar.value = Math.min(p.done, p.total); }
    else if (job.state === "queued") { parts.says.textContent = "waiting for a free worker"; }
    if (job.state === "done") { parts.says.textContent = "done in " + job.elapsed.toFixed(0) + " s"; return job; }
    if (job.state === "failed") throw errorOf(job.error, 0);
  }
}

async function resume(slot, id, box) {
  // A reload while a job runs: the same status, then the same handling as if it had never been left.
  const where = place(slot, box);
  const run = { slot, id, cancelled: false, started: Date.now() };
  state.runs[slot] = run;
  const parts = statusParts(where.status);
  where.buttons.forEach((b) => { b.disabled = true; });
  parts.line.hidden = false; parts.cancel.hidden = false; parts.bar.removeAttribute("value");
  parts.says.textContent = "still running " + where.what + "…";
  parts.cancel.onclick = () => cancel(run);
  const ticker = setInterval(() => { parts.elapsed.textContent = ((Date.now() - run.started) / 1000).toFixed(0) + " s"; }, 250);
  try { return await follow(run, parts); }
  finally {
    clearInterval(ticker);
    delete state.runs[slot];
    where.buttons.forEach((b) => { b.disabled = false; });
    parts.line.hidden = true;
    refreshButtons();
    persist();
  }
}

async function cancel(run) {
  run.cancelled = true;
  if (run.id) {
    try { await api("DELETE", "/v1/jobs/" + run.id); } catch (e) { /* already gone: cancelled all the same */ }
  }
}

async function cancelSlot(slot) {
  const run = state.runs[slot];
  if (!run) return;
  await cancel(run);
  while (state.runs[slot] === run) await sleep(50);
}

// ---- what is kept across a reload -------------------------------------------------------------------
function persist() {
  const data = { source: state.source };
  for (const slot of SLOTS) {
    if (state[slot]) data[slot] = state[slot].id;
    const run = state.runs[slot];
    if (run && run.id) data["run-" + slot] = run.id;
  }
  if (state.win && state.check) data.w = state.win.start.toFixed(2) + "-" + state.win.end.toFixed(2);
  data.fx = [$("aspect").value, $("reframe").value, $("person").value, $("stabilize").checked ? 1 : 0].join(".");
  try { localStorage.setItem(SAVE_KEY, JSON.stringify(data)); } catch (e) { /* private mode: the URL keeps them */ }
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(data)) if (v) q.set(k, v);
  history.replaceState(null, "", q.toString() ? "#" + q.toString() : location.pathname);
}

function saved() {
  const fromUrl = Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
  if (Object.keys(fromUrl).length) return fromUrl;
  try { return JSON.parse(localStorage.getItem(SAVE_KEY) || "{}") || {}; } catch (e) { return {}; }
}

async function restore() {
  const kept = saved();
  if (kept.w) {
    const [a, b] = kept.w.split("-").map(parseFloat);
    if (isFinite(a) && isFinite(b)) state.savedWin = { check: kept.check, start: a, end: b };
  }
  state.source = kept.source || null;
  if (kept.fx) restoreChoices(kept.fx.split("."));
  for (const slot of SLOTS) {
    const running = kept["run-" + slot];
    const id = running || kept[slot];
    if (!id) continue;
    try {
      const job = running ? await resume(slot, id) : (await api("GET", "/v1/jobs/" + id)).data;
      if (job.state === "done") SHOW[slot](job);
      else if (job.state === "failed") fail(slot, errorOf(job.error, 0));
    } catch (e) {
      if (e.code === "job.not_found") say(slot, "the server no longer has the last " + slot + " (it keeps jobs an hour)");
      else fail(slot, e);
    }
  }
  persist();
}

// ---- settings: one model, one provider, one orientation for the whole page ---------------------------
function fillSelect(select, values, chosen, label) {
  select.replaceChildren(...values.map((v) => {
    const o = el("option", label ? label(v) : v); o.value = v; if (v === chosen) o.selected = true; return o;
  }));
}

function provider() {
  const c = state.config;
  return c ? c.providers.find((p) => p.name === $("provider").value) : null;
}

function servingProviders(model) {
  return state.config.providers.filter((p) => p.models[model]).map((p) => p.name);
}

function orientationApplies() {
  // Models without a character orientation (Runway's Act-Two) have one duration cap and take none.
  const applies = state.config.models_with_orientation.includes($("model").value);
  $("orientation").disabled = !applies;
  if (!applies) $("orientation").value = "video";
  $("orientation").title = applies ? "" : $("model").value + " has no orientation";
  return applies;
}

function fillProviders(chosen) {
  const names = servingProviders($("model").value);
  const keep = names.includes(chosen) ? chosen : names.includes(state.config.defaults.provider) ? state.config.defaults.provider : names[0];
  fillSelect($("provider"), names, keep, (v) => v + (state.config.providers.find((p) => p.name === v).key_configured ? " (key set)" : ""));
}

async function loadConfig() {
  let config;
  try { config = (await api("GET", "/v1/config")).data; }
  catch (e) { if (e.code !== "serve.unauthorized") fail("check", e); return; }
  state.config = config;
  $("login").hidden = true; $("app").hidden = false;
  fillSelect($("model"), config.models, config.defaults.model);
  if ((config.reframe_modes || []).includes("follow") && !$("reframe").querySelector('option[value="follow"]')) {
    $("reframe").append(option("follow", REFRAME_OPTIONS.follow));
  }
  showChoices();
  fillProviders(config.defaults.provider);
  $("orientation").value = config.defaults.orientation;
  orientationApplies();
  updateSubmitBox();
  showAgainst(null);
  await restore();
  refreshHistory();
}

function settingsNow() {
  return { model: $("model").value, provider: $("provider").value, orientation: $("orientation").value };
}

function applySettings(settings) {
  // The selects follow the job shown (a reload, a history row) without starting a re-check.
  if (!settings || !state.config) return;
  if (settings.model && state.config.models.includes(settings.model)) $("model").value = settings.model;
  fillProviders(settings.provider || $("provider").value);
  if (settings.orientation) $("orientation").value = settings.orientation;
  orientationApplies();
  updateSubmitBox();
}

function showAgainst(text) {
  const s = settingsNow();
  const orientation = $("orientation").disabled ? " (no orientation)" : ", orientation “" + ORIENT[s.orientation] + "”";
  $("against").textContent = text || ("checks against " + s.model + " at " + s.provider + orientation);
}

async function onSettings(changed) {
  if (changed === "model") { fillProviders($("provider").value); orientationApplies(); }
  updateSubmitBox();
  clearCost();
  const have = state.source || state.pending.image || state.pending.video;
  if (!have) { showAgainst(); return; }
  // Results for other settings are not shown as if they were for these: check again, with the files the
  // server already holds (no new upload).
  markStale();
  await cancelSlot("check");
  runCheck();
}

function markStale() {
  const s = settingsNow();
  const note = "The settings changed (" + s.model + " at " + s.provider + ", orientation “" + ORIENT[s.orientation] + "”): Fix again for them.";
  if (state.fix) { $("outputs").replaceChildren(el("p", note, "muted")); state.fix = null; }
  if (state.prepare) { $("prepared").replaceChildren(); state.prepare = null; state.prepareKey = null; }
  persist();
}

function updateSubmitBox() {
  const c = state.config; if (!c) return;
  const prov = provider();
  const route = prov && prov.models[$("model").value];
  fillSelect($("mode"), route ? route.modes : [], route ? route.default_mode : null);
  $("submit-to").textContent = prov ? "To " + prov.name + ", model " + $("model").value + " (chosen at the top of the page)." : "";
  $("key-state").textContent = !prov ? "" : prov.key_configured ? "the server has a key for " + prov.name
    : "the server has no key for " + prov.name + ": the dry run works, Submit does not";
  $("key-state").className = prov && prov.key_configured ? "" : "muted";
  $("delivery").replaceChildren(...deliveryLines(prov));
  clearCost();
}

function deliveryLines(prov) {
  if (!prov) return [];
  const lines = [];
  for (const role of ["video", "image"]) {
    const how = prov.files[role], noun = NOUN[role];
    const text = {
      inline: "The " + noun + " goes inside the request itself.",
      server: "This server uploads the prepared " + noun + " to its own storage and sends " + prov.name + " the link: no link needed.",
      provider: "The prepared " + noun + " goes to " + prov.name + "'s own storage: no link needed (a " + noun + " link, if you give one, is used instead).",
      needs_link: prov.name + " downloads the " + noun + " from a link: it cannot take a file from this page. " +
        "Press “Prepare, cost and dry run”, download the prepared " + noun + ", put it where anyone can download it " +
        "and paste its link under “" + noun + " link”. Whoever runs this server can also give it an upload destination; " +
        "then the page sends the link itself.",
    }[how];
    if (text) lines.push(el("span", text + " ", how === "needs_link" ? "needs" : ""));
  }
  return lines;
}

function showLogin() { $("login").hidden = false; $("app").hidden = true; }

// ---- choosing files ----------------------------------------------------------------------------------
function roleOf(file) {
  if (file.type.startsWith("image/")) return "image";
  if (file.type.startsWith("video/")) return "video";
  return /\.(heic|heif|avif|jpe?g|png|webp|tiff?)$/i.test(file.name) ? "image" : "video";
}

function setFile(role, file) {
  if (!file) return;
  state.pending[role] = file;
  state.names[role] = file.name;
  showNames();
  refreshButtons();
}

function takeFiles(files) { for (const f of files) setFile(roleOf(f), f); }

function showNames() {
  for (const role of ["image", "video"]) {
    const f = state.pending[role];
    const name = state.names[role];
    $(role + "-name").textContent = f ? f.name + " (" + mb(f.size) + ")" : name ? name + " (on the server)" : "no " + NOUN[role];
    $(role + "-name").className = name ? "" : "muted";
  }
}

function refreshButtons() {
  $("check").disabled = !!state.runs.check || !(state.pending.image || state.pending.video || state.source);
  $("fix").disabled = !!state.runs.fix || !state.source;
  $("person").disabled = !!state.runs.fix || $("reframe").value === "none"; // "who" says whom a crop frames
  $("dry-run").disabled = !!state.runs.prepare || !!state.runs.dry;
}

// ---- the content fixes: "frame one person" and "steady a shaky camera", offered beside what they cure ------
const REFRAME_OPTIONS = { fixed: "fixed (one still crop)", follow: "following them (the provider sees a camera move)" };
const CURES = {
  reframe: { control: "reframe", value: "fixed", label: "frame one person" },
  follow: { control: "reframe", value: "follow", label: "frame one person, following them" },
  stabilize: { control: "stabilize", value: true, label: "steady the camera" },
};

function option(value, text) { const o = el("option", text); o.value = value; return o; }

function fixChoices() {
  return { aspect: $("aspect").value, reframe: $("reframe").value, person: $("person").value,
    stabilize: $("stabilize").checked ? "true" : "false" };
}

function restoreChoices([aspect, reframe, person, steady]) {
  const has = (id, v) => [...$(id).options].some((o) => o.value === v);
  if (has("aspect", aspect)) $("aspect").value = aspect;
  if (has("reframe", reframe)) $("reframe").value = reframe;
  if (has("person", person)) $("person").value = person;
  $("stabilize").checked = steady === "1";
  showChoices();
}

function cureOn(cure) {
  const c = CURES[cure];
  return c.control === "stabilize" ? $("stabilize").checked : $("reframe").value === c.value;
}

function offerButton(cure, when) {
  // A toggle beside a finding: it sets the control under Fix that cures it (pressed: Fix will use it).
  const c = CURES[cure];
  if (!c || (c.value === "follow" && !$("reframe").querySelector('option[value="follow"]'))) return null;
  const b = el("button", c.label + " " + when, "offer");
  b.type = "button";
  b.dataset.cure = cure;
  b.setAttribute("aria-pressed", String(cureOn(cure)));
  b.addEventListener("click", () => {
    if (c.control === "stabilize") $("stabilize").checked = !$("stabilize").checked;
    else $("reframe").value = cureOn(cure) ? "none" : c.value;
    onChoices();
  });
  return b;
}

function showChoices() {
  for (const b of document.querySelectorAll("button.offer")) b.setAttribute("aria-pressed", String(cureOn(b.dataset.cure)));
  const words = (id) => $(id).selectedOptions[0].textContent.trim();
  const framed = $("reframe").value === "none" ? "off" : "“" + words("reframe") + "”, who: " + words("person");
  $("prepare-with").textContent = "The pair is prepared with the choices under Fix: shape “" + words("aspect") +
    "”; frame one person: " + framed + "; steady a shaky camera: " + ($("stabilize").checked ? "yes" : "no") + ".";
  refreshButtons();
}

function onChoices() {
  showChoices();
  clearCost();
  persist();
}

// ---- check --------------------------------------------------------------------------------------------
function query(extra) {
  const q = new URLSearchParams(settingsNow());
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return "?" + q.toString();
}

function uploaded(sent) {
  // Files that went up with a job are on the server now: the next job takes them from it.
  for (const role of ["image", "video"]) if (sent[role] && state.pending[role] === sent[role]) state.pending[role] = null;
}

function inputsForm(fields) {
  // New files go up; the rest come from the job that holds them already.
  const form = new FormData();
  for (const role of ["image", "video"]) if (state.pending[role]) form.append(role, state.pending[role], state.pending[role].name);
  if (state.source) form.append("source", state.source);
  for (const [k, v] of Object.entries(fields || {})) form.append(k, v);
  return form;
}

async function runCheck() {
  const sent = { ...state.pending };
  const url = "/v1/check" + query({ content: $("content").checked ? "true" : "false" });
  const form = inputsForm();
  showAgainst("checking against " + settingsNow().model + " at " + settingsNow().provider + "…");
  try {
    const job = await runJob("check", (progress) => upload(url, form, progress));
    if (!job) return;
    uploaded(sent);
    showCheck(job);
  } catch (e) {
    if (e.code === "job.not_found" && !state.pending.image && !state.pending.video) {
      state.source = null;
      e = new PageError("the server no longer has your files (it keeps them an hour after the last job): drop them again");
    }
    fail("check", e);
    showAgainst();
  }
}

function findingsList(list, findings, empty, when) {
  list.replaceChildren(...findings.map((f) => {
    const li = el("li", null, "sev-" + f.severity);
    li.append(el("b", SEVERITY[f.severity] || f.severity), " ", el("span", f.text), " ", el("code", f.code, "muted"));
    const offer = f.cure ? offerButton(f.cure, when || "when fixing") : null;
    if (offer) li.append(" ", offer);
    return li;
  }));
  if (!findings.length && empty) list.replaceChildren(el("li", empty, "muted"));
}

function picture(img, job, name) {
  const has = (job.files || []).some((f) => f.name === name);
  img.hidden = !has;
  if (has) img.src = "/v1/jobs/" + job.id + "/files/" + name + "?inline=1";
  else img.removeAttribute("src");
  return has;
}

function showCheck(job) {
  state.check = job;
  state.source = job.id;
  const view = job.result.page;
  applySettings(job.settings);
  showAgainst("checked against " + view.checked_against);
  for (const [role, name] of Object.entries(job.inputs || {})) state.names[role] = name;
  showNames();
  $("results").hidden = false;
  for (const role of ["image", "video"]) $("card-" + role).hidden = true;
  for (const item of view.items) {
    const card = $("card-" + item.field);
    card.hidden = false;
    const badge = card.querySelector(".verdict");
    badge.textContent = VERDICT[item.verdict] || item.verdict;
    badge.className = "verdict " + item.verdict;
    card.querySelector(".name").textContent = item.name;
    card.querySelector(".verdict-text").textContent = item.verdict_text;
    findingsList(card.querySelector(".findings"), item.findings, "nothing to change");
  }
  picture($("card-video").querySelector(".picture"), job, "sheet.png");
  const both = view.items.length === 2;
  $("pair").hidden = !both;
  if (both) {
    const a = picture($("pair-photo").querySelector("img"), job, "image-pose.jpg");
    const b = picture($("pair-frame").querySelector("img"), job, "video-first-pose.jpg");
    $("pair-photo").hidden = !a; $("pair-frame").hidden = !b;
    findingsList($("pair").querySelector(".findings"), view.pair, "the photo and the clip go together", "when preparing the pair");
  }
  state.timeline = job.result.timeline;
  $("timeline-box").hidden = !state.timeline;
  if (state.timeline) {
    const s = state.timeline.suggested;
    const kept = state.savedWin && state.savedWin.check === job.id ? state.savedWin : null;
    setWindow(kept ? kept.start : s.start, kept ? kept.end : s.end, kept ? "your window" : s.text);
    state.savedWin = null;
    requestPreview(job);
  }
  refreshButtons();
  persist();
  refreshHistory();
}

// ---- the preview the browser can play ------------------------------------------------------------------
// A preview made once is used again after a reload (a 4K HEVC clip's takes a while): job|file -> preview job.
const PREVIEWS_KEY = "preflight.previews";

function previews() {
  try { return JSON.parse(localStorage.getItem(PREVIEWS_KEY) || "{}") || {}; } catch (e) { return {}; }
}

function rememberPreview(key, id) {
  const kept = Object.entries({ ...previews(), [key]: id }).slice(-20);
  try { localStorage.setItem(PREVIEWS_KEY, JSON.stringify(Object.fromEntries(kept))); } catch (e) { /* none kept */ }
}

async function madePreview(key) {
  const id = previews()[key];
  if (!id) return null;
  try {
    const job = (await api("GET", "/v1/jobs/" + id)).data;
    return job.state === "done" ? job : null;
  } catch (e) { return null; } // swept: make it again
}

async function requestPreview(job, file, player, box) {
  player = player || $("preview");
  const slot = file ? "preview-" + file : "preview";
  PLACES[slot] = PLACES[slot] || { status: box ? null : "preview-status", buttons: [], what: "the preview" };
  player.removeAttribute("src");
  const key = job.id + "|" + (file || "");
  try {
    const url = "/v1/preview?source=" + job.id + (file ? "&file=" + encodeURIComponent(file) : "");
    const done = (await madePreview(key)) || await runJob(slot, () => api("POST", url), box);
    if (!done) return;
    rememberPreview(key, done.id);
    player.src = "/v1/jobs/" + done.id + "/files/preview.mp4?inline=1";
    say(slot, done.result.made ? "a preview made for the browser (the file itself does not play here)" : "", box);
  } catch (e) { fail(slot, e, box); }
}

// ---- timeline ---------------------------------------------------------------------------------------------
function setWindow(start, end, why) {
  const t = state.timeline;
  for (const id of ["win-start", "win-end"]) $(id).max = t.duration;
  $("win-start").value = start; $("win-end").value = end;
  state.win = { start: parseFloat($("win-start").value), end: parseFloat($("win-end").value) };
  $("win-why").textContent = (why || "") + (t.pose_checked ? "" : " The content gates were off: the timeline shows no person, only cuts and damage.");
  drawTimeline();
  persist();
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
  drawTimeline();
  persist();
  const video = $("preview");
  if (video.src && video.readyState > 0) video.currentTime = moved === "start" ? start : Math.max(start, end - 0.5);
}

function describeTimeline(t, start, end) {
  const torso = t.samples.filter((s) => s[2]).length;
  const parts = ["Timeline of the " + t.duration.toFixed(1) + " s clip"];
  if (t.pose_checked) parts.push("the torso shows in " + torso + " of " + t.samples.length + " samples");
  if (t.cuts.length) parts.push(t.cuts.length + " cut(s), at " + t.cuts.map((c) => c.toFixed(1) + " s").join(", "));
  if (t.damage.length) parts.push("damaged packets at " + t.damage.map((c) => c.toFixed(1) + " s").join(", "));
  parts.push("the window is " + start.toFixed(1) + "–" + end.toFixed(1) + " s");
  return parts.join("; ") + ".";
}

function drawTimeline() {
  const t = state.timeline, canvas = $("timeline"), g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, x = (s) => (s / t.duration) * w;
  g.clearRect(0, 0, w, h);
  g.fillStyle = "#eee"; g.fillRect(0, 18, w, h - 36);
  const samples = t.samples;
  samples.forEach((s, n) => {
    const next = n + 1 < samples.length ? samples[n + 1][0] : t.duration;
    g.fillStyle = s[2] ? "#2e9e50" : s[1] ? "#e0a030" : "#bbb";
    g.fillRect(x(s[0]), 18, Math.max(1, x(next) - x(s[0])), h - 36);
  });
  g.fillStyle = "#b3261e";
  for (const c of t.cuts) g.fillRect(x(c) - 1, 8, 3, h - 16);
  g.fillStyle = "#6a1b9a";
  for (const d of t.damage) { g.beginPath(); g.moveTo(x(d), h - 2); g.lineTo(x(d) - 7, h - 14); g.lineTo(x(d) + 7, h - 14); g.fill(); }
  const { start, end } = windowValues();
  g.strokeStyle = "#1040c0"; g.lineWidth = 3; g.strokeRect(x(start), 3, x(end) - x(start), h - 6);
  g.fillStyle = "rgba(16,64,192,0.12)"; g.fillRect(x(start), 3, x(end) - x(start), h - 6);
  $("win-text").textContent = start.toFixed(1) + "–" + end.toFixed(1) + " s (" + (end - start).toFixed(1) + " s)";
  canvas.setAttribute("aria-label", describeTimeline(t, start, end));
  for (const id of ["win-start", "win-end"]) $(id).setAttribute("aria-valuetext", $(id).value + " s");
}

function windowFields() {
  if (!state.timeline || !state.names.video) return {};
  const { start, end } = windowValues();
  const s = state.timeline.suggested;
  if (Math.abs(start - s.start) < 0.05 && Math.abs(end - s.end) < 0.05) return {};
  return { start: start.toFixed(2), end: end.toFixed(2) };
}

function keepInWindow() {
  // The player plays the window only: what Fix keeps.
  const video = $("preview");
  if (!state.win || !video.src) return;
  if (video.currentTime < state.win.start - 0.05 || video.currentTime > state.win.end) {
    video.currentTime = state.win.start;
  }
}

// ---- fix ------------------------------------------------------------------------------------------------
async function runFix() {
  if (!state.source) { fail("fix", new PageError("Check your files first: Fix works on the files the check looked at")); return; }
  const sent = { ...state.pending };
  const form = inputsForm(windowFields());
  const url = "/v1/fix" + query(fixChoices());
  try {
    const job = await runJob("fix", (progress) => upload(url, form, progress));
    if (!job) return;
    uploaded(sent);
    showFix(job);
  } catch (e) { fail("fix", e); }
}

function outputBlock(job, item) {
  const block = el("section", null, "output");
  block.append(el("h3", "The " + NOUN[item.field] + (item.download_name ? ": " + item.download_name : "")));
  if (item.output) {
    const line = el("p");
    const a = el("a", "download " + item.download_name, "download");
    a.href = "/v1/jobs/" + job.id + "/files/" + item.output; a.setAttribute("download", item.download_name);
    const badge = el("span", item.verdict === "pass" ? "passes" : "does not pass", "verdict " + (item.verdict || "fail"));
    line.append(a, " ", badge);
    block.append(line);
  }
  if (item.done.length) {
    block.append(el("p", "What Fix did:", "muted"));
    const ul = el("ul", null, "done");
    ul.replaceChildren(...item.done.map((d) => el("li", d)));
    block.append(ul);
  }
  for (const note of item.notes || []) block.append(el("p", note, "muted note"));
  block.append(...beforeAfter(job, item));
  if (item.problems.length) {
    block.append(el("p", "Why the fixed " + NOUN[item.field] + " does not pass:", "bad why"));
    const ul = el("ul", null, "findings");
    findingsList(ul, item.problems);
    block.append(ul);
  }
  if (item.warnings.length) {
    const ul = el("ul", null, "findings");
    findingsList(ul, item.warnings);
    block.append(ul);
  }
  if (!item.output && item.why) block.append(el("p", "Not fixed: " + item.why, "bad why"));
  return block;
}

function beforeAfter(job, item) {
  // The before/after picture of a reframed or steadied clip, beside the fixed file; its alt text says it in words.
  return (item.pictures || []).map((p) => {
    const figure = el("figure", null, "before-after " + p.kind);
    const img = el("img");
    img.src = "/v1/jobs/" + job.id + "/files/" + p.name + "?inline=1";
    img.alt = p.alt;
    figure.append(img, el("figcaption", p.caption));
    return figure;
  });
}

function showFix(job) {
  state.fix = job;
  state.source = job.id;
  const view = job.result.page;
  const list = $("outputs");
  list.replaceChildren(el("p", "Fixed for " + view.checked_against + ".", "muted"));
  for (const item of view.items) {
    const block = outputBlock(job, item);
    list.append(block);
    if (item.field === "video" && item.output) {
      const player = el("video");
      player.controls = true; player.muted = true; player.setAttribute("playsinline", "");
      player.setAttribute("aria-label", "preview of the fixed clip");
      const box = el("div", null, "status");
      block.append(player, box);
      requestPreview(job, item.output, player, box);
    }
  }
  $("results").hidden = false;
  refreshButtons();
  persist();
  refreshHistory();
}

// ---- submit ---------------------------------------------------------------------------------------------
function clearCost() {
  $("cost-box").hidden = true; $("submit").disabled = true; $("accept-cost").checked = false;
  $("again").checked = false;
}

function prepareKey(source, parts) {
  // What a prepared pair was made of: the job holding the files, the settings, the window, Fix's choices.
  return JSON.stringify([source || state.source, ...(parts || [settingsNow(), windowFields(), fixChoices()])]);
}

async function ensurePrepared() {
  if (state.prepare && state.prepare.result.ok && state.prepareKey === prepareKey()) return state.prepare;
  const parts = [settingsNow(), windowFields(), fixChoices()];
  const url = "/v1/prepare" + query(fixChoices());
  const sent = { ...state.pending };
  const job = await runJob("prepare", (progress) => upload(url, inputsForm(windowFields()), progress));
  if (!job) return null;
  uploaded(sent);
  state.source = job.id; // it holds both files now: the photo added here went up with it, not with the fix
  showPrepared(job);
  state.prepareKey = prepareKey(job.id, parts);
  if (!job.result.ok) throw new PageError("The pair could not be prepared: " + job.result.page.why);
  return job;
}

function showPrepared(job) {
  state.prepare = job;
  const view = job.result.page;
  const box = $("prepared");
  if (!view.ok) {
    // Not prepared: each file with what was done and why it is not ready, beside the button's error.
    box.replaceChildren(el("p", "Not prepared for " + view.checked_against + ":", "bad"));
    for (const item of view.items) box.append(outputBlock(job, item));
  } else {
    // Prepared: the pair that would be sent, to download (and to put behind a link where one is needed).
    const list = el("ul", null, "prepared");
    for (const item of view.items) {
      const li = el("li", "the " + NOUN[item.field] + ": ");
      const a = el("a", item.download_name, "download");
      a.href = "/v1/jobs/" + job.id + "/files/" + item.output; a.setAttribute("download", item.download_name);
      li.append(a, " (" + (item.done.join("; ") || "as it was") + ")");
      for (const note of item.notes || []) li.append(el("p", note, "muted note"));
      const said = [...item.problems, ...item.warnings];
      if (said.length) { const ul = el("ul", null, "findings"); findingsList(ul, said); li.append(ul); }
      li.append(...beforeAfter(job, item));
      list.append(li);
    }
    box.replaceChildren(el("p", "Prepared for " + view.checked_against + ":", "muted"), list);
  }
  if (view.pair.length) { const ul = el("ul", null, "findings"); findingsList(ul, view.pair, null, "when preparing the pair"); box.append(ul); }
  persist();
}

function submitBody(extra) {
  const prov = provider();
  return { bundle: state.prepare.id, provider: prov.name, model: $("model").value, mode: $("mode").value || null,
    prompt: $("prompt").value || null, orientation: $("orientation").value,
    video_url: $("video-url").value.trim() || null, image_url: $("image-url").value.trim() || null, ...extra };
}

function missingLinks() {
  const prov = provider();
  return ["video", "image"].filter((r) => prov.files[r] === "needs_link" && !$(r + "-url").value.trim());
}

async function dryRun() {
  clearCost();
  if (!(state.names.image && state.names.video && state.source)) {
    fail("dry", new PageError("Submit needs a photo and a clip, checked: add the one missing at the top and press Check"));
    return;
  }
  try {
    const bundle = await ensurePrepared();
    if (!bundle) return;
    const missing = missingLinks();
    if (missing.length) {
      const noun = NOUN[missing[0]];
      const field = $(missing[0] + "-url");
      fail("dry", new PageError(provider().name + " downloads the " + noun + " from a link, and this server has no upload " +
        "destination: download the prepared " + noun + " below, put it where anyone can download it, paste its link " +
        "under “" + noun + " link” and press this button again."));
      field.focus();
      return;
    }
    for (const role of ["video", "image"]) {
      const url = $(role + "-url").value.trim();
      if (url && !/^https?:\/\/\S+$/.test(url)) { fail("dry", new PageError("the " + NOUN[role] + " link must start with https://")); $(role + "-url").focus(); return; }
    }
    const answer = await runJob("dry", () => api("POST", "/v1/submit", submitBody({ dry_run: true })));
    if (answer) showCost(answer);
  } catch (e) { fail("dry", e); }
}

function showCost(answer) {
  const view = answer.page;
  $("cost").textContent = view.cost;
  const prov = provider();
  $("sending").replaceChildren(...["video", "image"].map((role) => el("li", {
    link: "the " + NOUN[role] + ": the link you gave",
    inline: "the " + NOUN[role] + ": inside the request",
    server: "the " + NOUN[role] + ": uploaded by this server to its own storage, the link sent to " + prov.name,
    provider: "the " + NOUN[role] + ": uploaded to " + prov.name + "'s own storage",
  }[view.sending[role]] || "the " + NOUN[role])));
  $("requests").textContent = view.requests;
  $("again-box").hidden = !answer.earlier.length;
  if (answer.earlier.length) {
    const last = answer.earlier[0];
    $("cost").textContent += " · this pair was sent before (job " + last.id + ", " + last.status + ")";
  }
  $("cost-box").hidden = false;
  say("dry", "dry run done: nothing was sent");
  $("cost-box").scrollIntoView({ block: "nearest" });
}

function onAccept() {
  const prov = provider();
  $("submit").disabled = !($("accept-cost").checked && prov && prov.key_configured && !$("cost-box").hidden);
}

async function realSubmit() {
  try {
    const job = await runJob("submit", () => api("POST", "/v1/submit", submitBody({ confirm: true, again: $("again").checked })));
    if (job) showSubmitted(job);
  } catch (e) { fail("submit", e); }
}

function showSubmitted(job) {
  state.submit = job;
  const row = job.result.ledger_job;
  $("submitted").textContent = "Sent: job " + row.id + " at " + row.provider + ", task " + (row.task_id || "-") + " (" + row.status + "). The table below follows it.";
  $("submit").disabled = true; $("accept-cost").checked = false;
  persist();
  refreshLedger();
  refreshHistory();
}

const SHOW = { check: showCheck, fix: showFix, prepare: showPrepared, submit: showSubmitted };

// ---- history (this server's jobs) and the ledger ----------------------------------------------------------
function outcome(job) {
  if (job.state === "failed") return job.error ? job.error.text || job.error.message : "failed";
  if (job.state !== "done") return (job.progress && job.progress.stage) || job.state;
  const view = job.result && job.result.page;
  if (job.kind === "check" && view) return view.items.map((i) => NOUN[i.field] + " " + (VERDICT[i.verdict] || i.verdict)).join(" · ");
  if ((job.kind === "fix" || job.kind === "prepare") && view) {
    const items = view.items.map((i) => NOUN[i.field] + (i.output ? (i.verdict === "pass" ? " ready" : " fixed, does not pass") : " not fixed"));
    return (job.kind === "prepare" ? (view.ok ? "pair ready: " : "not ready: ") : "") + items.join(" · ");
  }
  if (job.kind === "submit" && job.result.ledger_job) return "sent: job " + job.result.ledger_job.id + " (" + job.result.ledger_job.status + ")";
  return "done";
}

async function refreshHistory() {
  let jobs;
  try { jobs = (await api("GET", "/v1/jobs")).data.jobs; } catch (e) { return; }
  const rows = jobs.filter((j) => j.kind !== "preview");
  $("history").tBodies[0].replaceChildren(...rows.map((j) => {
    const tr = el("tr");
    const when = new Date(j.created * 1000).toLocaleTimeString();
    const files = Object.values(j.inputs || {}).join(", ");
    const s = j.settings || {};
    const against = s.model ? s.model + " at " + s.provider + ", " + ORIENT[s.orientation] : "";
    const what = { check: "check", fix: "fix", prepare: "prepare", submit: "submit" }[j.kind] || j.kind;
    for (const v of [when, what, files, against, outcome(j)]) tr.append(el("td", v));
    const td = el("td");
    if (j.state === "done" && SHOW[j.kind]) {
      const b = el("button", "show");
      b.type = "button";
      b.setAttribute("aria-label", "show the " + what + " of " + when);
      b.addEventListener("click", async () => {
        try { SHOW[j.kind]((await api("GET", "/v1/jobs/" + j.id)).data); } catch (e) { fail(j.kind, e); }
      });
      td.append(b);
    }
    tr.append(td);
    return tr;
  }));
  if (!rows.length) {
    const tr = el("tr"), td = el("td", "nothing yet: checks, fixes and submits show here", "muted");
    td.colSpan = 6; tr.append(td);
    $("history").tBodies[0].replaceChildren(tr);
  }
}

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
      b.type = "button";
      b.setAttribute("aria-label", "ask " + j.provider + " about job " + j.id + " now");
      b.addEventListener("click", async () => { try { await api("POST", "/v1/ledger/" + j.id + "/refresh"); refreshLedger(); } catch (e) { fail("submit", e); } });
      td.append(b);
    }
    tr.append(td);
    return tr;
  }));
}

// ---- wiring ---------------------------------------------------------------------------------------------
function wire() {
  for (const [slot, where] of Object.entries(PLACES)) if (where.status) $(where.status).dataset.what = where.what;
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); takeFiles(e.dataTransfer.files); });
  $("pick").addEventListener("click", () => $("any-file").click());
  $("any-file").addEventListener("change", (e) => { takeFiles(e.target.files); e.target.value = ""; });
  $("image-file").addEventListener("change", (e) => setFile("image", e.target.files[0] || null));
  $("video-file").addEventListener("change", (e) => setFile("video", e.target.files[0] || null));
  $("check").addEventListener("click", runCheck);
  $("win-start").addEventListener("input", () => onWindow("start"));
  $("win-end").addEventListener("input", () => onWindow("end"));
  $("win-reset").addEventListener("click", () => { const s = state.timeline.suggested; setWindow(s.start, s.end, s.text); });
  $("preview").addEventListener("timeupdate", keepInWindow);
  $("preview").addEventListener("play", keepInWindow);
  $("preview").addEventListener("loadedmetadata", () => { if (state.win) $("preview").currentTime = state.win.start; });
  $("fix").addEventListener("click", runFix);
  for (const id of ["aspect", "reframe", "person", "stabilize"]) $(id).addEventListener("change", onChoices);
  $("dry-run").addEventListener("click", dryRun);
  $("accept-cost").addEventListener("change", onAccept);
  $("submit").addEventListener("click", realSubmit);
  for (const id of ["model", "provider", "orientation"]) $(id).addEventListener("change", () => onSettings(id));
  for (const id of ["mode", "prompt", "video-url", "image-url"]) $(id).addEventListener("change", clearCost);
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await api("POST", "/v1/session", { token: $("token").value }); $("login-error").textContent = ""; loadConfig(); }
    catch (err) { $("login-error").textContent = err.message; }
  });
  setInterval(() => { if (!document.hidden && state.config) { refreshLedger(); refreshHistory(); } }, 3000);
  refreshButtons();
  loadConfig().then(refreshLedger);
}

document.addEventListener("DOMContentLoaded", wire);
