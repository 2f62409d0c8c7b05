// RAGChat page: asks /chat/stream, shows the answer as it is written with its sources, and
// speaks the question then each finished sentence of the answer, in order.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const transcript = $("#transcript");
const form = $("#ask");
const input = $("#question");
const sendButton = $("#send");
const statusEl = $("#status");
const voiceToggle = $("#voice");
const template = $("#exchange-template");

const keyForm = $("#key-form");
const keyInput = $("#server-key");

const history = [];          // [{role, content}] sent with follow-up questions
let busy = false;
let askGeneration = 0;       // the number of the question being answered
let exchangeCount = 0;

// ---- Server key ----
// A server started with RAGCHAT_SERVER_KEY answers its API only to requests that carry the key.
// The page asks for it once and keeps it for this tab (sessionStorage), never in the URL.
const KEY_STORAGE = "ragchat-server-key";
let serverKey = sessionStorage.getItem(KEY_STORAGE) || "";
let retryAfterKey = null;    // the question refused for want of a key, asked again once it is given

function withKey(headers = {}) {
  if (serverKey) headers["Authorization"] = "Bearer " + serverKey;
  return headers;
}
function askForKey(message) {
  keyForm.hidden = false;
  $(".key-message", keyForm).textContent = message;
  keyInput.focus();
}
keyForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const key = keyInput.value.trim();
  if (!key) return;
  serverKey = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  keyInput.value = "";
  keyForm.hidden = true;
  loadDocuments().then(watchIndexing);
  if (retryAfterKey) { const q = retryAfterKey; retryAfterKey = null; ask(q); }
});

// Audio clips are API routes: with a key, an <audio> element cannot send it, so clips are
// fetched with the key and played from in-page blob URLs. One fetch per clip (the promise is
// kept); the blobs of old clips are released.
const clipURLs = new Map();   // server URL → Promise of a playable URL
const MAX_CLIPS = 64;
function playable(url) {
  if (!url || !serverKey) return Promise.resolve(url);
  if (!clipURLs.has(url)) {
    clipURLs.set(url, fetch(url, { headers: withKey() })
      .then((r) => (r.ok ? r.blob().then((b) => URL.createObjectURL(b)) : url))
      .catch(() => url));
    while (clipURLs.size > MAX_CLIPS) {
      const [oldest, local] = clipURLs.entries().next().value;
      clipURLs.delete(oldest);
      local.then((u) => { if (u.startsWith("blob:")) URL.revokeObjectURL(u); });
    }
  }
  return clipURLs.get(url);
}
window.addEventListener("pagehide", () => {
  for (const local of clipURLs.values()) local.then((u) => { if (u && u.startsWith("blob:")) URL.revokeObjectURL(u); });
});

// ---- Audio: one player, a queue of URLs played in order ----
const player = new Audio();
const queue = [];
let playing = false;

function enqueue(url, force = false) {
  if (!url || (!force && !voiceToggle.checked)) return;
  queue.push(url);
  if (!playing) playNext();
}
function setPlaying(on) {
  playing = on;
  document.body.classList.toggle("speaking", on);
}
function playNext() {
  const url = queue.shift();
  if (!url) { setPlaying(false); return; }
  setPlaying(true);
  player.src = url;
  player.play().catch(() => playNext());   // autoplay refused or bad clip: go on
}
function stopAudio() {
  queue.length = 0;
  player.pause();
  setPlaying(false);
}
player.addEventListener("ended", playNext);
player.addEventListener("error", playNext);

/// Question first, then answer sentences by index, whatever order the events arrive in.
class SpeechOrder {
  constructor() { this.questionDone = false; this.next = 0; this.pending = new Map(); }
  question(url) { enqueue(url); this.questionDone = true; this.flush(); }
  noQuestion() { this.questionDone = true; this.flush(); }
  answer(index, url) { this.pending.set(index, url); this.flush(); }
  flush() {
    if (!this.questionDone) return;
    while (this.pending.has(this.next)) {
      enqueue(this.pending.get(this.next));
      this.pending.delete(this.next);
      this.next += 1;
    }
  }
  finish() {
    this.questionDone = true;
    for (const i of [...this.pending.keys()].sort((a, b) => a - b)) enqueue(this.pending.get(i));
    this.pending.clear();
  }
}

// ---- Server status ----
// Polled every 2 s while the server is loading or unreachable, every 15 s once ready, so the
// status line also notices a server that stopped.
let healthTimer = null;
function setDown(text) {
  statusEl.textContent = text;
  statusEl.className = "status down";
}
async function checkHealth() {
  clearTimeout(healthTimer);
  let next = 2000;
  try {
    const r = await fetch("/health", { cache: "no-store" });
    const j = await r.json();
    if (j.auth_required && !serverKey) askForKey("Ce serveur demande une clé d'accès.");
    if (r.ok) {
      const info = j.info || {};
      const parts = [];
      if (info.backends) parts.push("réponses : " + info.backends.replace(/,/g, " → "));
      if (info.chunks) parts.push(info.chunks + " passages");
      statusEl.textContent = "Prêt" + (parts.length ? " — " + parts.join(", ") : "");
      statusEl.className = "status ready";
      next = 15000;
    } else {
      setDown(j.status === "loading" ? "Chargement de l'index et des modèles…" : "Indisponible : " + (j.error || j.status));
    }
  } catch (e) {
    setDown("Serveur injoignable");
  }
  healthTimer = setTimeout(checkHealth, next);
}

// ---- Rendering ----
function setBusy(on) {
  busy = on;
  sendButton.disabled = on;
  sendButton.textContent = on ? "…" : "Envoyer";
  sendButton.setAttribute("aria-label", on ? "Réponse en cours" : "Envoyer la question");
  form.setAttribute("aria-busy", on ? "true" : "false");
}

function newExchange(question, scroll = true) {
  exchangeCount += 1;
  const node = template.content.firstElementChild.cloneNode(true);
  node.id = "exchange-" + exchangeCount;
  $(".question .text", node).textContent = question;
  const ex = {
    id: exchangeCount,
    node,
    answerBox: $(".answer", node),
    answerText: $(".answer .text", node),
    busyLine: $(".busy", node),
    error: $(".error", node),
    backend: $(".backend", node),
    qAudio: $(".audio-question", node),
    aAudio: $(".audio-answer", node),
    qReplay: $(".replay-question", node),
    aReplay: $(".replay-answer", node),
    answerControls: $(".answer-controls", node),
    sourcesBox: $(".sources-box", node),
    sourcesList: $(".sources", node),
  };
  ex.qReplay.addEventListener("click", () => { stopAudio(); enqueue(ex.qAudio.src, true); });
  ex.aReplay.addEventListener("click", () => { stopAudio(); enqueue(ex.aAudio.src, true); });
  $(".stop", node).addEventListener("click", stopAudio);
  const hint = $("#hint");
  if (hint) hint.remove();
  transcript.append(node);
  if (scroll) node.scrollIntoView({ block: "end", behavior: "smooth" });
  return ex;
}

function openSource(ex, n) {
  const li = document.getElementById(`src-${ex.id}-${n}`);
  if (!li) return;
  ex.sourcesBox.open = true;
  const details = $("details", li);
  details.open = true;
  $("summary", li).focus();
  li.classList.add("flash");
  setTimeout(() => li.classList.remove("flash"), 1200);
}

function renderAnswer(ex, text) {
  const el = ex.answerText;
  el.textContent = "";
  const re = /\[(\d+(?:\s*[,;]\s*\d+)*)\]/g;
  let last = 0, m;
  while ((m = re.exec(text)) !== null) {
    el.append(text.slice(last, m.index));
    for (const n of m[1].split(/[,;]/).map((s) => s.trim())) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "cite";
      b.textContent = `[${n}]`;
      b.setAttribute("aria-label", `Voir la source ${n}`);
      b.addEventListener("click", () => openSource(ex, n));
      el.append(b);
    }
    last = re.lastIndex;
  }
  el.append(text.slice(last));
}

function renderSources(ex, sources) {
  ex.sourcesList.textContent = "";
  sources.forEach((s, i) => {
    const n = i + 1;
    const li = document.createElement("li");
    li.id = `src-${ex.id}-${n}`;
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    const num = document.createElement("span");
    num.className = "num";
    num.textContent = `[${n}] `;
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = s.file + (s.page != null ? `, page ${s.page}` : "");
    const score = document.createElement("span");
    score.className = "score";
    const v = Number(s.score);
    score.textContent = ` · score ${Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(2) : v.toExponential(1)}`;
    summary.append(num, where, score);
    const p = document.createElement("p");
    p.textContent = s.text;
    details.append(summary, p);
    const link = sourceLink(s);
    if (link) details.append(link);
    li.append(details);
    ex.sourcesList.append(li);
  });
  ex.sourcesBox.hidden = sources.length === 0;
  const summary = $("summary", ex.sourcesBox);
  summary.textContent = sources.length === 1 ? "1 source" : `${sources.length} sources`;
}

function showError(ex, message) {
  ex.error.hidden = false;
  ex.error.textContent = "Erreur : " + message;
  ex.busyLine.hidden = true;
  ex.answerBox.setAttribute("aria-busy", "false");
}

// ---- Citations that open the source ----
// A PDF opens at the cited page (#page=N); a text file as a page with the passage marked. The
// document id comes from the documents list (GET /documents): without access to it, no link.
function sourceURL(s) {
  const doc = documentsByFile.get(s.file);
  if (!doc || doc.id == null) return null;
  if (s.page != null) return `/documents/${doc.id}/file#page=${s.page}`;
  return `/documents/${doc.id}/file?passage=${encodeURIComponent(s.id)}#passage`;
}
function sourceLink(s) {
  const url = sourceURL(s);
  if (!url) return null;
  const a = document.createElement("a");
  a.className = "open-source";
  a.href = url;
  a.target = "_blank";
  a.rel = "noopener";
  a.textContent = s.page != null ? `Ouvrir le document à la page ${s.page}` : "Ouvrir le document au passage";
  a.addEventListener("click", (e) => {
    if (!serverKey) return;   // a plain link
    // With a key, a new tab cannot send it: fetch the file and open it from a blob URL.
    e.preventDefault();
    const tab = window.open("about:blank", "_blank");
    const [path, fragment] = url.split("#");
    fetch(path, { headers: withKey() })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error("HTTP " + r.status))))
      .then((b) => { const u = URL.createObjectURL(b); if (tab) tab.location = u + (fragment ? "#" + fragment : ""); })
      .catch(() => { if (tab) tab.close(); });
  });
  return a;
}

// ---- The conversation, kept across reloads (localStorage) ----
const CONVERSATION_STORAGE = "ragchat-conversation";
const MAX_SAVED_EXCHANGES = 50;
function savedConversation() {
  try { return JSON.parse(localStorage.getItem(CONVERSATION_STORAGE) || "[]"); } catch (e) { return []; }
}
function saveExchange(exchange) {
  const all = savedConversation();
  all.push(exchange);
  while (all.length > MAX_SAVED_EXCHANGES) all.shift();
  try { localStorage.setItem(CONVERSATION_STORAGE, JSON.stringify(all)); } catch (e) { /* storage full: keep the page going */ }
}
function restoreConversation() {
  for (const saved of savedConversation()) {
    const ex = newExchange(saved.question, false);
    renderAnswer(ex, saved.answer || "");
    renderSources(ex, saved.sources || []);
    ex.busyLine.hidden = true;
    ex.backend.textContent = saved.backend ? `· ${saved.backend}` : "";
    ex.answerBox.setAttribute("aria-busy", "false");
    ex.node.dataset.done = "true";
    ex.node.dataset.restored = "true";
    history.push({ role: "user", content: saved.question }, { role: "assistant", content: saved.answer || "" });
  }
  while (history.length > 8) history.shift();
}
$("#new-conversation").addEventListener("click", () => {
  if (busy) return;
  stopAudio();
  localStorage.removeItem(CONVERSATION_STORAGE);
  history.length = 0;
  for (const node of transcript.querySelectorAll(".exchange")) node.remove();
  input.focus();
});

// ---- Documents: list, upload (button, drag and drop), delete, indexing progress ----
const documentsPanel = $("#documents");
const documentsToggle = $("#documents-toggle");
const documentsList = $("#documents-list");
const documentsMessage = $("#documents-message");
const uploadInput = $("#upload");
const indexingBox = $("#indexing");
const indexingBar = $("#indexing-bar");
const indexingText = $("#indexing-text");
const dropOverlay = $("#drop-overlay");
let documentsByFile = new Map();
let documentsAvailable = false;
let maxUploadBytes = 50 * 1024 * 1024;
let lastGeneration = -1;

function documentsNotice(text, isError = true) {
  documentsMessage.hidden = !text;
  documentsMessage.textContent = text || "";
  documentsMessage.classList.toggle("ok", !isError);
}
const STATUS_LABELS = { indexed: "indexé", failed: "échec", queued: "en attente d'indexation", removing: "suppression…" };
function sizeLabel(bytes) {
  if (bytes >= 1024 * 1024) return (bytes / 1024 / 1024).toFixed(1).replace(".", ",") + " Mo";
  return Math.max(1, Math.round(bytes / 1024)) + " ko";
}
function renderDocuments(documents) {
  documentsByFile = new Map(documents.map((d) => [d.file, d]));
  documentsList.textContent = "";
  if (documents.length === 0) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "Aucun document pour l'instant.";
    documentsList.append(li);
  }
  for (const d of documents) {
    const li = document.createElement("li");
    li.dataset.file = d.file;
    li.dataset.status = d.status;
    const name = document.createElement("span");
    name.className = "doc-name";
    name.textContent = d.file;
    const meta = document.createElement("span");
    meta.className = "doc-meta";
    const parts = [STATUS_LABELS[d.status] || d.status];
    if (d.status === "indexed") {
      if (d.pages > 1) parts.push(`${d.pages} pages`);
      parts.push(`${d.chunks} passages`, sizeLabel(d.size));
      if (d.indexed_at) parts.push(new Date(d.indexed_at).toLocaleString("fr-FR", { dateStyle: "short", timeStyle: "short" }));
    }
    if (d.error) parts.push(d.error);
    meta.textContent = parts.join(" · ");
    li.append(name, meta);
    if (d.id != null && d.status !== "removing") {
      const del = document.createElement("button");
      del.type = "button";
      del.className = "doc-delete";
      del.textContent = "Supprimer";
      del.setAttribute("aria-label", `Supprimer ${d.file}`);
      del.addEventListener("click", () => deleteDocument(d));
      li.append(del);
    }
    documentsList.append(li);
  }
}
function showIndexing(p) {
  const active = p.state === "indexing";
  indexingBox.hidden = !active;
  if (active) {
    indexingBar.value = p.fraction || 0;
    indexingText.textContent = p.file ? `Indexation de ${p.file} (${p.file_index}/${p.file_count})…` : "Indexation…";
  }
  if (p.generation !== lastGeneration) {
    const changed = lastGeneration >= 0;
    lastGeneration = p.generation;
    if (changed) {
      loadDocuments();
      if (p.last && p.last.failures && p.last.failures.length) documentsNotice("Non indexé : " + p.last.failures.join(" ; "));
      else if (p.state === "idle") documentsNotice("Indexation terminée : les documents sont à jour.", false);
    }
  }
}
// Several loads may overlap (an upload's, an indexing event's): only the latest one started is
// shown, or an older answer arriving last would put back a file's earlier status for good.
let documentsRequest = 0;
async function loadDocuments() {
  const ticket = ++documentsRequest;
  try {
    const r = await fetch("/documents", { headers: withKey(), cache: "no-store" });
    if (ticket !== documentsRequest) return;
    if (!r.ok) {
      documentsAvailable = false;
      documentsToggle.hidden = r.status === 403 || r.status === 503;
      return;
    }
    const j = await r.json();
    if (ticket !== documentsRequest) return;
    documentsAvailable = true;
    documentsToggle.hidden = false;
    maxUploadBytes = j.max_upload_bytes || maxUploadBytes;
    uploadInput.disabled = !!j.read_only;
    if (j.read_only) documentsNotice("Lecture seule : " + j.read_only);
    renderDocuments(j.documents || []);
    showIndexing(j.indexing || {});
  } catch (e) { /* the status line reports an unreachable server */ }
}
let watching = false;
async function watchIndexing() {
  if (watching || !documentsAvailable) return;
  watching = true;
  try {
    const r = await fetch("/documents/events", { headers: withKey({ "Accept": "text/event-stream" }) });
    if (r.ok) await readEvents(r, ({ event, payload }) => { if (event === "progress" && payload) showIndexing(payload); });
  } catch (e) { /* reconnect below */ }
  watching = false;
  setTimeout(() => { loadDocuments().then(watchIndexing); }, 3000);
}
async function uploadFiles(files) {
  files = [...files];
  if (files.length === 0) return;
  const tooLarge = files.filter((f) => f.size > maxUploadBytes);
  if (tooLarge.length) {
    documentsNotice(`Trop volumineux (limite ${sizeLabel(maxUploadBytes)}) : ${tooLarge.map((f) => f.name).join(", ")}`);
    return;
  }
  const body = new FormData();
  for (const f of files) body.append("file", f, f.name);
  documentsNotice("Envoi de " + files.map((f) => f.name).join(", ") + "…", false);
  try {
    const r = await fetch("/documents", { method: "POST", headers: withKey(), body });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) {
      documentsNotice("Refusé : " + ((j.error && j.error.message) || `HTTP ${r.status}`));
      return;
    }
    documentsNotice("Reçu : " + (j.documents || []).map((d) => d.file).join(", ") + " — indexation en cours.", false);
    await loadDocuments();
  } catch (e) {
    documentsNotice("Envoi impossible : le serveur ne répond pas.");
  }
}
async function deleteDocument(d) {
  if (!window.confirm(`Supprimer ${d.file} du dossier des documents et de l'index ?`)) return;
  const r = await fetch(`/documents/${d.id}`, { method: "DELETE", headers: withKey() });
  const j = await r.json().catch(() => ({}));
  documentsNotice(r.ok ? `${d.file} supprimé.` : "Suppression refusée : " + ((j.error && j.error.message) || `HTTP ${r.status}`), !r.ok);
  await loadDocuments();
}
documentsToggle.addEventListener("click", () => {
  documentsPanel.hidden = !documentsPanel.hidden;
  documentsToggle.setAttribute("aria-expanded", String(!documentsPanel.hidden));
  if (!documentsPanel.hidden) loadDocuments();
});
uploadInput.addEventListener("change", () => { uploadFiles(uploadInput.files).then(() => { uploadInput.value = ""; }); });
// Files dropped anywhere on the page.
let dragDepth = 0;
const carriesFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
document.addEventListener("dragenter", (e) => { if (!carriesFiles(e) || !documentsAvailable) return; dragDepth += 1; dropOverlay.hidden = false; });
document.addEventListener("dragleave", () => { dragDepth = Math.max(0, dragDepth - 1); if (dragDepth === 0) dropOverlay.hidden = true; });
document.addEventListener("dragover", (e) => { if (carriesFiles(e)) e.preventDefault(); });
document.addEventListener("drop", (e) => {
  if (!carriesFiles(e)) return;
  e.preventDefault();
  dragDepth = 0;
  dropOverlay.hidden = true;
  if (!documentsAvailable) return;
  documentsPanel.hidden = false;
  documentsToggle.setAttribute("aria-expanded", "true");
  uploadFiles(e.dataTransfer.files);
});

// ---- Asking ----
function parseFrame(frame) {
  let event = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  let payload = null;
  try { payload = JSON.parse(data.join("\n")); } catch (e) { payload = null; }
  return { event, payload };
}

/// Calls `handle` with each Server-Sent Event of a fetch response, until the stream ends.
/// (EventSource cannot send the server key, so streams are read with fetch.)
async function readEvents(res, handle) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (frame.trim()) handle(parseFrame(frame));
    }
  }
}

async function ask(question) {
  if (busy) return;
  setBusy(true);
  stopAudio();
  const ex = newExchange(question);
  const order = new SpeechOrder();
  // Clips are resolved one after another, in the order their events came, and dropped once
  // another question has been asked.
  const generation = ++askGeneration;
  let clips = Promise.resolve();
  const current = () => generation === askGeneration;
  let answer = "";
  let finished = false;
  let sourcesShown = [];

  const handle = ({ event, payload }) => {
    if (!payload) return;
    switch (event) {
      case "sources":
        sourcesShown = payload.sources || [];
        renderSources(ex, sourcesShown);
        ex.busyLine.lastChild.textContent = " Rédaction de la réponse…";
        break;
      case "audio":
        clips = clips.then(() => playable(payload.url)).then((src) => {
          if (!current()) return;
          if (payload.kind === "question") {
            ex.qAudio.src = src;
            ex.qReplay.disabled = false;
            order.question(src);
          } else {
            ex.answerControls.hidden = false;
            order.answer(payload.index, src);
          }
        });
        break;
      case "token":
        answer += payload.text;
        ex.busyLine.hidden = true;
        renderAnswer(ex, answer);
        break;
      case "done": {
        finished = true;
        answer = payload.answer;
        renderAnswer(ex, answer);
        ex.busyLine.hidden = true;
        ex.backend.textContent = payload.backend ? `· ${payload.backend}` : "";
        const a = payload.audio || {};
        ex.answerControls.hidden = !a.answer;
        clips = clips.then(() => Promise.all([playable(a.answer), playable(a.question)])).then(([answerSrc, questionSrc]) => {
          if (!current()) return;
          if (answerSrc) { ex.aAudio.src = answerSrc; ex.aReplay.disabled = false; }
          if (questionSrc && !ex.qAudio.getAttribute("src")) { ex.qAudio.src = questionSrc; ex.qReplay.disabled = false; }
          order.finish();
        });
        ex.answerBox.setAttribute("aria-busy", "false");
        ex.node.dataset.done = "true";
        history.push({ role: "user", content: question }, { role: "assistant", content: answer });
        while (history.length > 8) history.shift();
        saveExchange({ question, answer, backend: payload.backend || "", sources: payload.sources || sourcesShown });
        break;
      }
      case "error":
        showError(ex, (payload.error && payload.error.message) || "erreur inconnue");
        break;
    }
  };

  try {
    const res = await fetch("/chat/stream", {
      method: "POST",
      headers: withKey({ "Content-Type": "application/json", "Accept": "text/event-stream" }),
      body: JSON.stringify({ question, history: history.slice(-6) }),
    });
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      try { const j = await res.json(); if (j.error && j.error.message) message = j.error.message; } catch (e) { /* not JSON */ }
      if (res.status === 503) message += " — réessayez dans quelques secondes.";
      if (res.status === 401) {
        serverKey = "";
        sessionStorage.removeItem(KEY_STORAGE);
        retryAfterKey = question;
        askForKey(message.includes("wrong") ? "Clé refusée : saisissez-la de nouveau." : "Ce serveur demande une clé d'accès.");
        message = "clé d'accès requise — la question sera reposée une fois la clé saisie.";
      }
      if (res.status === 429) message = "trop de questions à la suite — réessayez dans " + (res.headers.get("Retry-After") || "quelques") + " s.";
      throw new Error(message);
    }
    await readEvents(res, handle);
    if (!finished && ex.error.hidden) showError(ex, "la réponse a été interrompue");
  } catch (e) {
    if (e instanceof TypeError) {
      // fetch() rejects with a TypeError when the server cannot be reached.
      showError(ex, "le serveur ne répond pas. Vérifiez que « ragchat serve » tourne, puis réessayez.");
      setDown("Serveur injoignable");
      checkHealth();
    } else {
      showError(ex, e.message || String(e));
    }
  } finally {
    setBusy(false);
    input.focus();
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const q = input.value.trim();
  if (!q || busy) return;
  input.value = "";
  ask(q);
});
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    form.requestSubmit();
  }
});
document.addEventListener("keydown", (e) => { if (e.key === "Escape") stopAudio(); });
voiceToggle.addEventListener("change", () => { if (!voiceToggle.checked) stopAudio(); });
for (const b of document.querySelectorAll(".example")) {
  b.addEventListener("click", () => { input.value = b.textContent.trim(); form.requestSubmit(); });
}

// The keyboard hint fits in the placeholder on wide screens only.
const wide = window.matchMedia("(min-width: 40rem)");
const setPlaceholder = () => {
  input.placeholder = wide.matches ? "Votre question… (Entrée pour envoyer, Maj+Entrée pour aller à la ligne)" : "Votre question…";
};
wide.addEventListener("change", setPlaceholder);
setPlaceholder();

restoreConversation();
checkHealth();
loadDocuments().then(watchIndexing);
input.focus();
