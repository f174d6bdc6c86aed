// The Veil console: a reviewer's and auditor's view of the API (docs/api.md, "GET /console").
//
// Rules this file keeps:
// - The token lives in sessionStorage only and travels only in the Authorization header of fetch()
//   calls to this origin: never in a cookie, a URL or the page.
// - Every value from the API is put in the page as text (textContent), never as markup. The one
//   exception is the model card, which the server renders with every value escaped
//   (GET /v1/models/{id}/card.html, the same fragment `veil report model` writes); it is parsed with
//   DOMParser (scripts in it would not run, and the Content-Security-Policy forbids inline scripts).
// - The page calls only the endpoints the token's role may use (GET /v1/session lists them), so a
//   page never shows data the API would refuse.
"use strict";

const TOKEN_KEY = "veil.token";
// `opened` counts calls of `open`: only the newest call's rendering is shown (see `open`).
const state = { session: null, page: null, opened: 0, selected: new Set(), objectURLs: [] };

// ---------- small DOM helpers ----------

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "onclick") node.addEventListener("click", value);
    else if (name === "onchange") node.addEventListener("change", value);
    else if (name === "oninput") node.addEventListener("input", value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function number(value, digits = 4) {
  if (value === null || value === undefined) return "—";
  if (typeof value !== "number") return String(value);
  if (value === 0) return "0";
  return Number(value.toPrecision(digits)).toString();
}

function fieldsTable(caption, rows) {
  return el("table", { class: "fields" }, el("caption", { text: caption }),
    ...rows.map(([label, value]) => el("tr", {}, el("th", { scope: "row", text: label }), el("td", { text: value ?? "—" }))));
}

function gridTable(caption, header, rows, id) {
  const table = el("table", { class: "grid", id }, el("caption", { text: caption }),
    el("tr", {}, ...header.map((name) => el("th", { scope: "col", text: name }))));
  for (const row of rows) {
    table.append(el("tr", {}, ...row.map((cell) => el("td", {}, cell instanceof Node ? cell : String(cell ?? "—")))));
  }
  if (rows.length === 0) table.append(el("tr", {}, el("td", { colspan: String(header.length), text: "none" })));
  return table;
}

function showMessage(text, ok) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.className = ok ? "ok" : "";
  message.hidden = !text;
}

// ---------- the API ----------

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Authorization: "Bearer " + token };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: "omit",
    cache: "no-store",
  });
  if (!response.ok) {
    let message = "HTTP " + response.status;
    try {
      const problem = await response.json();
      if (problem && problem.message) message = problem.message;
    } catch (_) { /* not JSON */ }
    if (response.status === 401) signOut("The token is not valid (or was revoked): sign in again.");
    throw new APIError(response.status, message);
  }
  const type = response.headers.get("Content-Type") || "";
  if (options.as === "blob") return response.blob();
  if (type.startsWith("application/json")) return response.json();
  return response.text();
}

function may(area) {
  return state.session !== null && state.session.areas.includes(area);
}

// An <img> of an SVG the API draws: fetched with the token, shown from a blob: URL (an <img> cannot
// send the header, and an SVG in an <img> runs no script).
async function chartImage(path, alt) {
  const blob = await api(path, { as: "blob" });
  const url = URL.createObjectURL(blob);
  state.objectURLs.push(url);
  return el("img", { src: url, alt, class: "chart-image" });
}

function releaseObjectURLs() {
  for (const url of state.objectURLs) URL.revokeObjectURL(url);
  state.objectURLs = [];
}

// ---------- sign in and navigation ----------

const pages = [
  { id: "budget", title: "Budget", visible: () => may("budget"), render: renderBudget },
  { id: "models", title: "Models", visible: () => may("models"), render: renderModels },
  { id: "audit", title: "Audit", visible: () => may("audit"), render: renderAudit },
  { id: "activity", title: "Queries & training", visible: () => may("budget") || may("training"), render: renderActivity },
];

async function signIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    state.session = await api("/v1/session");
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.session = null;
    showMessage(error.status === 401 ? "That token is not valid." : error.message);
    return;
  }
  showMessage("");
  document.getElementById("sign-in").hidden = true;
  document.getElementById("who").hidden = false;
  document.getElementById("who-name").textContent = state.session.name + " (" + state.session.role + ")";
  const nav = document.getElementById("nav");
  nav.replaceChildren();
  const visible = pages.filter((page) => page.visible());
  for (const page of visible) {
    nav.append(el("button", { type: "button", id: "nav-" + page.id, "data-page": page.id, text: page.title, onclick: () => open(page.id) }));
  }
  nav.hidden = visible.length === 0;
  if (visible.length === 0) {
    const section = document.getElementById("page");
    section.hidden = false;
    section.replaceChildren(el("p", { id: "no-pages", text: "A token of role " + state.session.role + " may see no console page: the console shows budgets, models and the audit log to analysts, trainers, reviewers, auditors and admins." }));
    return;
  }
  open(visible[0].id);
}

function signOut(note) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.session = null;
  releaseObjectURLs();
  document.getElementById("sign-in").hidden = false;
  document.getElementById("who").hidden = true;
  document.getElementById("nav").hidden = true;
  document.getElementById("page").hidden = true;
  document.getElementById("page").replaceChildren();
  showMessage(note || "");
}

// Shows a page. A page opened again before its last rendering finished (the page opened at sign-in,
// then its button clicked) renders twice at once; the newer call revokes the object URLs the older one
// made, so only the newest call may show what it rendered — an older one finishing last would show
// charts whose blobs are gone.
async function open(pageId, ...parameters) {
  const page = pages.find((candidate) => candidate.id === pageId);
  state.page = pageId;
  const call = ++state.opened;
  for (const button of document.querySelectorAll("nav button")) button.classList.toggle("active", button.dataset.page === pageId);
  releaseObjectURLs();
  const section = document.getElementById("page");
  section.hidden = false;
  section.replaceChildren(el("p", { text: "Loading…" }));
  try {
    const content = await page.render(...parameters);
    if (state.opened === call) section.replaceChildren(...content);
  } catch (error) {
    if (state.opened === call) section.replaceChildren(el("p", { class: "error", text: error.message }));
  }
}

// ---------- Budget ----------

async function renderBudget() {
  const budget = await api("/v1/budget");
  const [chart, byPrincipal] = await Promise.all([
    chartImage("/v1/budget/chart.svg", "Cumulative ε of " + budget.dataset + " against its cap; one point per spend"),
    chartImage("/v1/budget/principals.svg", "Cumulative ε by principal, each principal's spends composed; one point per spend"),
  ]);
  chart.id = "budget-chart";
  byPrincipal.id = "budget-principals-chart";
  return [
    el("h2", { text: "Privacy budget of " + budget.dataset }),
    fieldsTable("Dataset", [
      ["cap ε", number(budget.total_epsilon)], ["spent ε", number(budget.spent_epsilon)],
      ["remaining ε", number(budget.remaining_epsilon)], ["δ", number(budget.delta)],
      ["max ε per request", number(budget.max_epsilon_per_request)],
      ["accountant", budget.accountant ? String(budget.accountant.accountant).toUpperCase() : "—"],
    ]),
    el("p", { class: "hint", text: "Spent ε is the composition of every spend by the ledger's accountant at δ, not their sum; `veil audit verify` recomputes it from the signed log. Hover a point for the spend's purpose." }),
    el("div", { class: "plots" }, chart, byPrincipal),
    gridTable("Per principal", ["principal", "role", "spent ε", "principal cap ε", "role cap ε"],
      budget.principals.map((p) => [p.principal, p.role, number(p.spent_epsilon), number(p.cap_epsilon), number(p.role_cap_epsilon)])),
    gridTable("Spends", ["id", "time", "principal", "role", "purpose", "ε", "cumulative ε"],
      budget.spends.map((s) => [s.id, s.time, s.principal, s.role, s.purpose, number(s.epsilon), number(s.cumulative_epsilon)]), "spends"),
  ];
}

// ---------- Models ----------

// The headline private metric of a list entry (GET /v1/models): "AUC 0.731 [0.702, 0.76] (DP)".
function headline(entry) {
  const metric = entry.headline;
  if (!metric) return "— (no private metric)";
  const names = { roc_auc: "AUC", top1_accuracy: "top-1 accuracy" };
  const hasValue = typeof metric.value === "number";
  const interval = typeof metric.low === "number" && typeof metric.high === "number"
    ? " [" + number(metric.low, 3) + ", " + number(metric.high, 3) + "]" : (hasValue ? " (no interval: noise too large)" : "");
  const value = hasValue ? number(metric.value, 3) : "n/a (the noisy counts cannot form it)";
  return (names[metric.metric] || metric.metric) + " " + value + interval + " (DP)";
}

async function renderModels() {
  // One request: each entry holds the record and what the list shows from its card.
  const list = (await api("/v1/models")).models;
  state.selected.clear();
  const compare = el("button", { type: "button", id: "compare", disabled: true, text: "Compare the two selected",
    onclick: () => open("models-compare", ...state.selected) });
  const rows = list.map((entry) => {
    const box = el("input", { type: "checkbox", "aria-label": "select " + entry.id, onchange: (event) => {
      if (event.target.checked) state.selected.add(entry.id); else state.selected.delete(entry.id);
      compare.disabled = state.selected.size !== 2;
    } });
    const window = entry.data_window || {};
    return [box, el("button", { type: "button", class: "link model-link", "data-model-id": entry.id, text: entry.id, onclick: () => open("model", entry.id) }),
      entry.task, entry.model_kind || "—", entry.is_private ? number(entry.epsilon) : "non-private",
      (window.observation_start || "all history") + " → " + (window.cutoff || "?"), headline(entry), entry.state];
  });
  return [
    el("h2", { text: "Models" }),
    gridTable("Newest first", ["", "id", "task", "model kind", "ε", "data window (features)", "headline private metric (95% interval)", "status"], rows, "models"),
    el("p", { class: "hint", text: "The headline is differentially private (from the noisy holdout histogram, paid inside the model's ε): ROC AUC for purchase and churn, top-1 accuracy for next_category." }),
    compare,
  ];
}

async function cardFragment(id) {
  const html = await api("/v1/models/" + id + "/card.html");
  const parsed = new DOMParser().parseFromString(html, "text/html");
  const article = parsed.body.querySelector("article");
  if (article === null) throw new Error("the server sent no card for model " + id);
  return document.importNode(article, true);
}

async function renderModel(id) {
  const { record, card } = await api("/v1/models/" + id);
  const content = [el("p", {}, el("button", { type: "button", class: "link", text: "← all models", onclick: () => open("models") }))];
  if (may("review")) content.push(reviewPanel(record, card));
  content.push(await cardFragment(id));
  return content;
}

// A reviewer's decisions on one model: approve or reject a candidate (a candidate that fails its
// quality gate is approved only with an override note), revoke an approved model.
function reviewPanel(record, card) {
  const post = async (action, body) => {
    try {
      const updated = await api("/v1/models/" + record.id + "/" + action, { method: "POST", body });
      showMessage("Model " + updated.id + " is now " + updated.state + ".", true);
      open("model", record.id);
    } catch (error) {
      showMessage(error.message);
    }
  };
  const gate = (card && card.quality_gate) || null;
  const panel = el("div", { class: "review", id: "review" }, el("h3", { text: "Review (" + record.state + ")" }));
  if (gate !== null) {
    panel.append(el("p", { id: "quality-gate", text: "Quality gate: " + (gate.passes ? "passes" : "FAILS") + " — " + gate.reason }));
    if (gate.override_note) panel.append(el("p", { text: "Approved anyway by " + (gate.override_by || "—") + ": " + gate.override_note }));
  }
  if (record.state === "candidate") {
    const note = el("textarea", { id: "review-note", maxlength: "2000", placeholder: "Why (required, audited; no personal data)" });
    const fails = gate !== null && gate.passes === false;
    const override = fails
      ? el("textarea", { id: "override-quality", maxlength: "2000", placeholder: "This model does not beat its baselines: why approve it anyway (required to approve, audited)" })
      : null;
    const approval = () => (override !== null && override.value.trim() !== ""
      ? { note: note.value, override_quality: override.value } : { note: note.value });
    panel.append(note, override,
      el("button", { type: "button", id: "approve", text: "Approve for serving", onclick: () => post("approve", approval()) }),
      el("button", { type: "button", id: "reject", text: "Reject", onclick: () => post("reject", { note: note.value }) }));
  } else {
    panel.append(el("p", { text: "Reviewed by " + (record.reviewer || "—") + ": " + (record.review_note || "—") }));
  }
  if (record.state === "approved") {
    const note = el("textarea", { id: "revoke-note", maxlength: "2000", placeholder: "Why revoke (required, audited; no personal data)" });
    panel.append(note,
      el("button", { type: "button", id: "revoke", text: "Revoke: stop serving now", onclick: () => post("revoke", { note: note.value }) }));
  }
  if (record.state === "revoked") {
    panel.append(el("p", { id: "revoked", text: "Revoked by " + (record.revoked_by || "—") + ": " + (record.revoke_note || "—") }));
  }
  return panel;
}

async function renderCompare(first, second) {
  const [left, right] = await Promise.all([cardFragment(first), cardFragment(second)]);
  return [
    el("p", {}, el("button", { type: "button", class: "link", text: "← all models", onclick: () => open("models") })),
    el("h2", { text: "Two models side by side" }),
    el("div", { class: "compare", id: "comparison" }, left, right),
  ];
}

pages.push({ id: "model", title: "Model", visible: () => false, render: renderModel });
pages.push({ id: "models-compare", title: "Compare", visible: () => false, render: renderCompare });

// ---------- Audit ----------

function auditRows(text) {
  const rows = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const body = JSON.parse(JSON.parse(line).body);
    const details = body.details || {};
    const epsilon = typeof details.epsilon === "number" ? details.epsilon : null;
    rows.push({ seq: body.seq, time: body.time, action: body.action, actor: body.actor, epsilon });
  }
  return rows;
}

async function renderAudit() {
  const [status, log] = await Promise.all([api("/v1/audit/status"), api("/v1/audit")]);
  const verification = status.verification;
  const rows = auditRows(log);
  const exportURL = URL.createObjectURL(new Blob([log], { type: "application/x-ndjson" }));
  state.objectURLs.push(exportURL);

  const actions = [...new Set(rows.map((row) => row.action))].sort();
  const actionFilter = el("select", { id: "filter-action" }, el("option", { value: "", text: "any" }),
    ...actions.map((action) => el("option", { value: action, text: action })));
  const principalFilter = el("input", { id: "filter-principal", type: "text", placeholder: "any" });
  const sinceFilter = el("input", { id: "filter-since", type: "date" });
  const holder = el("div", { id: "audit-records" });
  const redraw = () => {
    const since = sinceFilter.value;
    const shown = rows.filter((row) => (!actionFilter.value || row.action === actionFilter.value)
      && (!principalFilter.value || row.actor.includes(principalFilter.value))
      && (!since || row.time >= since));
    holder.replaceChildren(gridTable(shown.length + " of " + rows.length + " records", ["seq", "time", "action", "principal", "ε"],
      shown.map((row) => [row.seq, row.time, row.action, row.actor, number(row.epsilon)]), "audit-table"));
  };
  for (const input of [actionFilter, principalFilter, sinceFilter]) {
    input.addEventListener("input", redraw);
    input.addEventListener("change", redraw);
  }
  redraw();

  return [
    el("h2", { text: "Audit log" }),
    el("p", { id: "audit-status", class: verification.valid ? "status-valid" : "status-invalid",
      text: verification.valid ? "The chain verifies (checked on the server with the audit public key)."
        : "The chain does NOT verify: " + (verification.failure ? verification.failure.reason : "see below") }),
    fieldsTable("Verification", [
      ["records checked", verification.records_checked], ["head seq", verification.head_seq],
      ["last checkpoint", status.last_checkpoint
        ? "seq " + status.last_checkpoint.seq + ", made " + status.last_checkpoint.time
          + (verification.valid && typeof verification.checkpoint_seq === "number" ? " (the chain matches it)" : "")
        : "none signed on this server yet"],
      ["head hash", verification.head_hash],
      ["ε recomputed for spends", verification.epsilon ? verification.epsilon.note : "—"],
      ["ledger", verification.ledger ? verification.ledger.note : "—"], ["mirror", verification.mirror ? verification.mirror.note : "—"],
      ["checkpoint check", status.checkpoint],
      ["audit public key (audit.pub)", status.public_key],
    ]),
    el("h3", { text: "Verify it yourself" }),
    el("p", { class: "hint", text: "Download the export, then check it with nothing but audit.pub — with veil, or with the independent PyNaCl verifier:" }),
    el("p", {}, el("a", { href: exportURL, download: "audit.ndjson", id: "audit-download", text: "Download the export (audit.ndjson)" })),
    el("pre", { id: "audit-commands", text: status.commands.join("\n") }),
    el("h3", { text: "Records" }),
    el("div", { class: "filters" }, el("label", {}, "action", actionFilter), el("label", {}, "principal", principalFilter),
      el("label", {}, "since (UTC date)", sinceFilter)),
    holder,
  ];
}

// ---------- Queries and training runs ----------

// A run's progress as one line: phase, epoch and step, and ε of the steps so far (never a loss).
function progressText(progress) {
  if (!progress) return "—";
  if (progress.phase === "reading") return "reading: " + progress.users_read + " users";
  let text = progress.phase + ": epoch " + progress.epoch + "/" + progress.epochs + ", step " + progress.steps + "/" + progress.total_steps;
  if (typeof progress.epsilon_so_far === "number") text += ", ε so far " + progress.epsilon_so_far.toFixed(3);
  return text;
}

async function renderActivity() {
  const content = [el("h2", { text: "Queries and training runs" }),
    el("p", { class: "hint", text: "History only: what was asked and what it cost, never an answer." })];
  if (may("budget")) {
    const budget = await api("/v1/budget");
    content.push(gridTable("Releases paid from the budget", ["id", "time", "principal", "role", "purpose", "ε"],
      budget.spends.map((s) => [s.id, s.time, s.principal, s.role, s.purpose, number(s.epsilon)]), "releases"));
  }
  if (may("training")) {
    const runs = (await api("/v1/training-runs")).runs;
    content.push(gridTable("Training runs on this server (newest first; kept in memory until restart)", ["run", "status", "progress", "model", "error"],
      runs.map((run) => [run.id, run.status, progressText(run.progress), run.model_id || "—", run.error || "—"]), "runs"));
    if (runs.some((run) => run.status === "running")) {
      content.push(el("p", { class: "hint", text: "A run is in progress: this page refreshes every 3 seconds." }));
      setTimeout(() => { if (state.page === "activity") open("activity"); }, 3000);
    }
  }
  return content;
}

// ---------- start ----------

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token");
    const token = input.value.trim();
    input.value = "";
    if (token) signIn(token);
  });
  document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) signIn(token);
});
