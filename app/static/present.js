// The presenter view: the question on air in large type, the next three, a clock and a timer,
// and the answer composer with a live count per network and the charter's live check.
import { networkCounts } from "/static/counting.js";
import { api, asker, connect, el, keepNewest, readJson, showStatus } from "/static/realtime.js";

const initial = readJson("initial");
const liveEvent = readJson("live-event");
const questions = new Map(initial.questions.map((q) => [q.id, q]));
const composer = document.getElementById("composer");
const textarea = document.getElementById("answer-text");
const status = document.getElementById("composer-status");
const NETWORKS = { x: "X", replay: "X (replay)", audience: "Tribune page", mastodon: "Mastodon", bluesky: "Bluesky" };

function onAir() {
  return [...questions.values()].find((q) => q.status === "on_air") || null;
}

function render() {
  const current = onAir();
  const box = document.getElementById("onair");
  if (current) {
    box.replaceChildren(...[
      el("p", { class: "onair-text", text: current.text }),
      el("p", { class: "meta", text: `${asker(current)} · ${NETWORKS[current.source] || current.source}${othersAsking(current)}` }),
      current.category === "rumour" ? el("p", { class: "rumour-flag", text: "⚑ Rumour: answer with the facts (the charter's rumour template is selected)" }) : null,
    ].filter(Boolean));
    const changed = box.dataset.id !== String(current.id);
    box.dataset.id = String(current.id);
    composer.hidden = false;
    // Another asker: the mention policy and the X price may differ; a rumour calls for the
    // charter's rumour template.
    if (changed) { scheduleCheck(); suggestTemplate(current); }
    showModes(current);
  } else {
    box.replaceChildren(el("p", { class: "muted", text: "Nothing on air." }));
    delete box.dataset.id;
    composer.hidden = true;
  }
  const next = [...questions.values()].filter((q) => q.status === "approved")
    .sort((a, b) => a.queue_position - b.queue_position || a.id - b.id).slice(0, 3);
  document.getElementById("next").replaceChildren(...next.map((q) => el("li", { class: "q", "data-id": String(q.id) },
    el("p", { class: "text", text: q.text }),
    el("div", { class: "meta", text: `${asker(q)} · ${NETWORKS[q.source] || q.source}` }),
    el("button", { type: "button", text: "Put on air", onclick: () => post(q, "on-air") }))));
}

// Questions merged into this one: one answer serves all their askers.
function othersAsking(q) {
  const n = (q.askers || []).length;
  return n ? ` · +${n} asker${n > 1 ? "s" : ""}: ${q.askers.map(asker).join(", ")}` : "";
}

async function post(q, action, body = {}) {
  try {
    const updated = await api(`/api/v1/questions/${q.id}/${action}`, { method: "POST", body: { version: q.version, ...body } });
    keepNewest(questions, updated);
    status.textContent = "";
    render();
    return true;
  } catch (error) {
    status.textContent = error.message;
    return false;
  }
}

const MODES = { reply: "a reply to the asker", standalone: "a post naming the asker", page: "not on X (page only)" };
const modeSelect = document.getElementById("x-mode");
const preview = document.getElementById("preview");
let shownFor = null;

// Without X credentials there is no choice to make: answers go to the Tribune page.
const xEnabled = !document.getElementById("x-row").hidden;

// Askers merged into the question get a reply on X of their own unless this is unticked.
const replyAskers = document.getElementById("reply-askers");
replyAskers.addEventListener("change", () => schedulePreview());

function showModes(current) {
  document.getElementById("askers-row").hidden = !(current && current.askers && current.askers.length);
  if (!xEnabled || !current || shownFor === current.id) return;
  shownFor = current.id;
  modeSelect.replaceChildren(...current.x_options.map((mode) => el("option", { value: mode, text: MODES[mode] || mode })));
  schedulePreview();
}

let previewTimer = null;
function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(refreshPreview, 300);
}

// What X will get (how many posts) and what it costs, from the server's own split.
async function refreshPreview() {
  const current = onAir();
  const text = textarea.value.trim();
  if (!xEnabled || !current || !text) { preview.textContent = ""; return; }
  try {
    const result = await api(`/api/v1/questions/${current.id}/answer-preview`, {
      method: "POST", body: { text, x_mode: modeSelect.value || null, reply_to_askers: replyAskers.checked } });
    const replies = askerReplies(result.asker_replies);
    if (!result.spend) { preview.textContent = `Tribune page only${replies ? " for the asker" : "."}${replies}`; return; }
    const links = result.spend.url_posts ? ` · ${result.spend.url_posts} with a link ($0.20 each)` : "";
    preview.textContent = `${result.parts.length} post${result.parts.length > 1 ? "s" : ""} on X · est. $${Number(result.spend.usd).toFixed(3)}${links}${replies}`;
  } catch (error) {
    preview.textContent = error.message;
  }
}
modeSelect.addEventListener("change", schedulePreview);

// The replies to the askers merged into the question: how many X allows, and their price.
function askerReplies(r) {
  if (!r) return "";
  if (!replyAskers.checked) return ` · no reply to the ${r.askers} merged asker${r.askers > 1 ? "s" : ""}`;
  const others = r.askers - r.replies;
  const skipped = others ? ` (${others} other${others > 1 ? "s" : ""} not on X or not mentioning us: the page only)` : "";
  if (!r.replies) return ` · no X reply to the ${r.askers} merged asker${r.askers > 1 ? "s" : ""}${skipped}`;
  const links = r.url_posts ? `, ${r.url_posts} with a link` : "";
  return ` · + ${r.replies} repl${r.replies > 1 ? "ies" : "y"} to merged askers (${r.posts} post${r.posts > 1 ? "s" : ""}, est. $${Number(r.usd).toFixed(3)}${links})${skipped}`;
}

function updateCounts() {
  document.getElementById("counts").replaceChildren(...networkCounts(textarea.value).map((c) =>
    el("span", { class: c.used > c.limit ? "over" : "", "data-network": c.network,
      text: c.network === "X"
        ? `X: ${c.used}/${c.limit}${c.posts > 1 ? ` · a thread of ${c.posts} posts` : ""}`
        : `${c.network}: ${c.used}` })));
}
textarea.addEventListener("input", () => { updateCounts(); schedulePreview(); scheduleCheck(); });
modeSelect.addEventListener("change", scheduleCheck);

// The editorial charter: the server checks the draft for every network the answer goes to (the
// same check publishing makes), the list says what is wrong, and a broken hard rule disables
// publishing unless a moderator overrides it with a reason (the override is audited).
const charter = readJson("charter");
const publishButton = document.getElementById("publish");
const violationList = document.getElementById("violations");
const hint = document.getElementById("charter-hint");
const overrideRow = document.getElementById("override-row");
const overrideBox = document.getElementById("override");
const overrideReason = document.getElementById("override-reason");
let hardBroken = false;
let checkTimer = null;
let checkRound = 0;

function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(refreshCheck, 250);
}

function answerNetworks() {
  return xEnabled && modeSelect.value !== "page" ? ["page", "x"] : ["page"];
}

async function refreshCheck() {
  const round = ++checkRound;
  const current = onAir();
  const text = textarea.value.trim();
  if (!current || !text) { showViolations([]); return; }
  try {
    const results = await Promise.all(answerNetworks().map((network) =>
      api(`/api/v1/events/${encodeURIComponent(liveEvent.slug)}/charter/check`, {
        method: "POST", body: { text, network, question_id: current.id } })));
    // A slower answer to an older draft must not overwrite the newer one's.
    if (round === checkRound) showViolations(results.flatMap((r) => r.violations));
  } catch (error) {
    if (round === checkRound) status.textContent = error.message;
  }
}

function showViolations(violations) {
  // The rules that do not depend on the network come back once per network: list them once.
  const seen = new Set();
  const unique = violations.filter((v) => {
    const key = `${v.rule}|${v.message}|${v.start}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  violationList.replaceChildren(...unique.map((v) => el("li", { class: v.severity, "data-rule": v.rule,
    text: `${v.severity === "hard" ? "Blocks publishing" : "Warning"}: ${v.message}` })));
  hardBroken = unique.some((v) => v.severity === "hard");
  updatePublish();
}

function updatePublish() {
  const overriding = Boolean(charter.can_override && overrideBox?.checked);
  publishButton.disabled = hardBroken && !overriding;
  if (overrideRow) overrideRow.hidden = !hardBroken;
  hint.hidden = !hardBroken;
  hint.textContent = !hardBroken ? ""
    : charter.can_override ? "A hard rule of the charter is broken: fix the answer, or override the charter with a reason."
      : "A hard rule of the charter is broken: fix the answer, or ask a moderator to override.";
}
overrideBox?.addEventListener("change", updatePublish);

// The template that fits the question on air: the charter's first rumour template for a
// rumour, else its first answer template, else none (a rumour's template offered for any
// question would invite the wrong answer). Only selected: the spokesperson inserts it.
function suggestTemplate(q) {
  const select = document.getElementById("template");
  const kind = q.category === "rumour" ? "rumour" : "answer";
  const index = charter.templates.findIndex((t) => t.kind === kind);
  if (select) select.value = index >= 0 ? String(index) : "";
}

function askerName(q) {
  return q.author_handle ? `@${q.author_handle}` : (q.author_name || "");
}

const templateSelect = document.getElementById("template");
templateSelect.replaceChildren(el("option", { value: "", text: "Choose a template…" }),
  ...charter.templates.map((t, i) =>
    el("option", { value: String(i), text: `${t.name} (${t.kind.replace("_", " ")})` })));
document.getElementById("insert-template").addEventListener("click", () => {
  // Number("") is 0: the placeholder must not insert the first template.
  const template = templateSelect.value === "" ? null : charter.templates[Number(templateSelect.value)];
  const current = onAir();
  if (!template || !current) return;
  // As app.charter.service.render fills them: plain replacement, then spaces collapsed.
  const text = template.text.replaceAll("{asker}", askerName(current))
    .replaceAll("{signature}", charter.signature).split(/\s+/).filter(Boolean).join(" ");
  textarea.value = textarea.value.trim() ? `${textarea.value.trim()} ${text}` : text;
  textarea.dispatchEvent(new Event("input"));
  textarea.focus();
});

composer.addEventListener("submit", async (event) => {
  event.preventDefault();
  const current = onAir();
  if (!current) return;
  const text = textarea.value.trim();
  if (!text) { status.textContent = "Write the answer first."; return; }
  const body = { text, x_mode: modeSelect.value || null, reply_to_askers: replyAskers.checked };
  if (hardBroken && charter.can_override && overrideBox.checked) {
    const reason = overrideReason.value.trim();
    if (reason.length < 3) { status.textContent = "Say why you override the charter."; overrideReason.focus(); return; }
    body.override = { reason };
  }
  try {
    await api(`/api/v1/questions/${current.id}/answers`, { method: "POST", body });
    textarea.value = "";
    status.textContent = "Published.";
    updateCounts();
    preview.textContent = "";
    if (overrideBox) { overrideBox.checked = false; overrideReason.value = ""; }
    showViolations([]);
  } catch (error) {
    status.textContent = error.message;
    if (error.details.violations) showViolations(error.details.violations);
  }
});
document.getElementById("said").addEventListener("click", () => {
  const current = onAir();
  if (current) post(current, "mark-answered");
});

const clock = document.getElementById("clock");
const timer = document.getElementById("timer");
function tick() {
  clock.textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const current = onAir();
  if (current) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(current.status_changed_at)) / 1000));
    timer.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  } else timer.textContent = "";
}
setInterval(tick, 1000);

connect({
  slug: liveEvent.slug,
  channel: "presenter",
  seq: initial.seq,
  onStatus: showStatus(document.getElementById("conn")),
  onUpdate(message) {
    if (message.type === "question") keepNewest(questions, message.question);
    else if (message.type === "question.removed") questions.delete(message.id);
    render();
  },
});
render();
updateCounts();
tick();
