// The moderator console: the incoming stream, the queue the presenter follows, on air and done.
// Several moderators work at once; everything they do arrives here over the moderation channel.
import { api, asker, connect, el, keepNewest, readJson, showStatus, timeOf } from "/static/realtime.js";

const initial = readJson("initial");
const liveEvent = readJson("live-event");
const slug = encodeURIComponent(liveEvent.slug);
const questions = new Map(initial.questions.map((q) => [q.id, q]));
let counts = initial.counts;

// Lists render at most this many items each (more on demand), so a flood of 10,000 pending
// questions costs what 200 cost.
const PAGE = 200;
const LISTS = {
  // Rumours first: triage flags them for priority review (the server pages them first too).
  pending: { statuses: ["pending"], order: "rumours", limit: PAGE, stage: true },
  // Complaints wait for the complaints desk, never in the stage's lists (issue 7).
  complaints: { statuses: ["pending"], order: "oldest", limit: 50, complaints: true },
  approved: { statuses: ["approved"], order: "queue", limit: PAGE },
  on_air: { statuses: ["on_air"], order: "oldest", limit: PAGE },
  answered: { statuses: ["answered"], order: "newest", limit: 50 },
  aside: { statuses: ["rejected", "archived"], order: "newest", limit: 50 },
};
const filters = { q: "", category: "", lang: "", source: "" };
let selected = null;
let editing = null; // { id, field, node }: the open editor, kept across redraws (editor())
let lastAction = null; // { id, label } for "z"
// Questions picked to merge (duplicates), then merged into another with "Merge … here".
const picked = new Set();
const openAskers = new Set(); // questions whose list of merged askers is unfolded
// What can be picked, and what can take the picked ones in (as the server decides).
const MERGEABLE = ["pending", "approved"];
const ABSORBING = ["pending", "approved", "on_air"];

const flash = document.getElementById("flash");
function say(text, kind = "info", undoable = false) {
  flash.replaceChildren(el("span", { text }));
  flash.dataset.kind = kind;
  if (undoable && lastAction) {
    flash.append(" ", el("button", { type: "button", class: "link", text: "Undo (z)", onclick: undoLast }));
  }
}

function matches(q) {
  if (filters.category && (q.category || "uncategorised") !== filters.category) return false;
  if (filters.lang && q.lang !== filters.lang) return false;
  if (filters.source && q.source !== filters.source) return false;
  if (filters.q && !q.text.toLowerCase().includes(filters.q.toLowerCase())) return false;
  return true;
}

function itemsOf(name) {
  const spec = LISTS[name];
  const items = [...questions.values()].filter((q) => spec.statuses.includes(q.status) && matches(q)
    && (spec.complaints ? q.category === "complaint" : !(spec.stage && q.category === "complaint")));
  if (spec.order === "queue") items.sort((a, b) => a.queue_position - b.queue_position || a.id - b.id);
  else if (spec.order === "newest") items.sort((a, b) => b.status_changed_at.localeCompare(a.status_changed_at) || b.id - a.id);
  else if (spec.order === "rumours") items.sort((a, b) => (b.category === "rumour") - (a.category === "rumour") || a.id - b.id);
  else items.sort((a, b) => a.id - b.id);
  return items;
}

function button(label, key, handler, secondary = false) {
  return el("button", { type: "button", text: label, title: key ? `${label} (${key})` : label,
    class: secondary ? "secondary" : "", onclick: (e) => { e.stopPropagation(); handler(); } });
}

function actionsFor(q) {
  const b = [];
  const act = (action) => () => run(q.id, action);
  if (q.category === "complaint" && q.status === "pending") {
    // Only the desk puts a complaint on the stage ("move to stage"): the server refuses the rest.
    b.push(el("a", { class: "button", href: `/desk/${slug}#case-${q.id}`, text: "Open on the desk" }),
      button("Reject", "r", act("reject")));
  } else if (q.status === "pending") b.push(button("Approve", "a", act("approve")), button("Reject", "r", act("reject")));
  if (q.status === "approved") b.push(button("On air", "o", act("on-air")), button("Reject", "r", act("reject")));
  if (q.status === "on_air" || q.status === "approved") b.push(button("Answered", "m", act("mark-answered"), q.status !== "on_air"));
  // The rest shows on the selected card (or under the pointer), to keep a long list calm.
  // The category is changed from its badge (or c), which keeps this row as it was.
  b.push(button("Edit", "e", () => startEdit(q.id, "text"), true), button("Note", "n", () => startEdit(q.id, "note"), true));
  if (q.status !== "archived") b.push(button("Archive", "x", act("archive"), true));
  b.push(button("Undo", "u", act("undo"), true));
  const others = [...picked].filter((id) => id !== q.id);
  if (others.length && ABSORBING.includes(q.status)) {
    b.push(button(`Merge ${others.length} picked here`, "", () => mergeInto(q.id, others)));
  }
  return el("div", { class: "actions" }, ...b);
}

function pickBox(q) {
  if (!MERGEABLE.includes(q.status)) return null;
  const box = el("input", { type: "checkbox", class: "pick", checked: picked.has(q.id),
    "aria-label": `Pick #${q.id} to merge`, title: "Pick to merge into another question (g)" });
  box.addEventListener("click", (event) => event.stopPropagation());
  box.addEventListener("change", () => togglePick(q.id));
  return box;
}

function togglePick(id) {
  if (picked.has(id)) picked.delete(id); else picked.add(id);
  render();
}

// One answer to the main question serves every asker merged into it.
async function mergeInto(mainId, ids) {
  const main = questions.get(mainId);
  if (!main) return;
  const versions = ids.map((id) => questions.get(id)?.version ?? 1);
  try {
    const updated = await api(`/api/v1/questions/${mainId}/merge`, { method: "POST", body: { version: main.version, ids, versions } });
    keepNewest(questions, updated);
    for (const id of ids) picked.delete(id);
    selected = mainId;
    say(`Merged ${ids.map((id) => `#${id}`).join(", ")} into #${mainId}: ${updated.asked_by} askers, one answer.`);
    refreshCounts();
    render();
  } catch (error) {
    say(error.message, "error");
    if (error.status === 409) [mainId, ...ids].forEach(refetch);
  }
}

function askersOf(q) {
  if (!q.askers || !q.askers.length) return null;
  const n = q.askers.length;
  const replied = new Set((q.answer?.deliveries || []).filter((d) => d.target === "x" && d.part === 1 && d.status === "published").map((d) => d.question_id));
  // Cards are redrawn on every update: the list stays open across them.
  const details = el("details", { class: "askers", open: openAskers.has(q.id) });
  details.addEventListener("toggle", () => { if (details.open) openAskers.add(q.id); else openAskers.delete(q.id); });
  details.addEventListener("click", (event) => event.stopPropagation());
  details.append(
    el("summary", { text: `+${n} asker${n > 1 ? "s" : ""}` }),
    el("ul", {}, ...q.askers.map((a) => el("li", { "data-asker": String(a.id) },
      el("span", { text: `${asker(a)} · ${a.source}${a.x_reply_allowed ? " · X reply" : ""}${replied.has(a.id) ? " · replied" : ""}: ` }),
      el("span", { class: "asker-text", text: a.text }),
      q.status === "answered" ? null : button("Unmerge", "", () => unmerge(a.id, a.version), true)))));
  return details;
}

async function unmerge(id, version) {
  try {
    const updated = await api(`/api/v1/questions/${id}/unmerge`, { method: "POST", body: { version } });
    keepNewest(questions, updated);
    say(`#${id} unmerged: ${updated.status}.`);
    refreshCounts();
    render();
  } catch (error) {
    say(error.message, "error");
  }
}

// The categories a moderator may file a question under (the filter's own options).
const CATEGORIES = [...document.querySelectorAll('#filters select[name="category"] option')]
  .map((o) => o.value).filter((v) => v && v !== "uncategorised");

function categoryPicker(q) {
  const select = el("select", { "aria-label": `Category of question #${q.id}` },
    el("option", { value: "", text: "uncategorised" }),
    ...CATEGORIES.map((c) => el("option", { value: c, text: c })));
  select.value = q.category || "";
  return select;
}

function editor(q) {
  // The same editor across redraws: in a live chat updates arrive all the time, and an input
  // rebuilt on each would lose what the moderator is typing (draw() gives it its focus back).
  if (editing.node) return editing.node;
  const field = editing.field;
  const input = field === "text"
    ? el("textarea", { value: q.text, rows: 3, "aria-label": "Edit the question" })
    : field === "category" ? categoryPicker(q)
    : el("input", { value: q.note, "aria-label": "Moderator note", placeholder: "A note for the team" });
  input.addEventListener("click", (event) => event.stopPropagation());
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { editing = null; render(); }
    if (event.key === "Enter" && (field !== "text" || event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      save(q, field, input.value);
    }
  });
  setTimeout(() => input.focus(), 0);
  editing.node = el("div", { class: "editor" }, input,
    el("div", { class: "actions" },
      button("Save", field === "text" ? "Ctrl+Enter" : "Enter", () => save(q, field, input.value)),
      button("Cancel", "Esc", () => { editing = null; render(); })));
  return editing.node;
}

// Where the answer went: X's state per thread, and why it failed when it did. The threads
// replying to merged askers are counted apart.
function deliveryLine(answer, q) {
  const x = answer.deliveries.filter((d) => d.target === "x" && d.question_id === q.id);
  if (!x.length) return null;
  const failed = x.find((d) => d.status === "failed");
  const done = x.filter((d) => d.status === "published").length;
  const text = failed ? `X: failed — ${failed.error}`
    : done === x.length ? `X: published (${done} post${done > 1 ? "s" : ""})` : `X: ${done}/${x.length} posted…`;
  const line = el("p", { class: failed ? "delivery error" : "delivery", text });
  const first = x.find((d) => d.part === 1 && d.url);
  if (first && !failed) line.append(" ", el("a", { href: first.url, target: "_blank", rel: "noopener noreferrer", text: "view" }));
  return line;
}

function askerRepliesLine(answer, q) {
  const replies = answer.deliveries.filter((d) => d.target === "x" && d.question_id !== q.id);
  if (!replies.length) return null;
  const failed = replies.filter((d) => d.status === "failed").length;
  const done = replies.filter((d) => d.status === "published").length;
  return el("p", { class: failed ? "delivery error" : "delivery",
    text: `Replies to merged askers: ${done}/${replies.length} posted${failed ? `, ${failed} failed` : ""}` });
}

// Triage's verdict: the category with the model's confidence (or who set it), flagged rumours,
// and how many questions triage found alike (a group the moderator may merge).
function triageChips(q) {
  const chips = [];
  if (q.category) {
    const sure = q.category_source === "triage" && q.triage_confidence != null ? ` ${Math.round(q.triage_confidence * 100)}%` : "";
    const title = q.category_source === "moderator" ? "Set by a moderator" : q.category_source === "triage" ? `Triage: ${sure.trim()} sure` : "";
    chips.push(el("button", { type: "button", class: `chip cat-${q.category}${q.category === "rumour" ? " priority" : ""}`,
      text: `${q.category === "rumour" ? "⚑ " : ""}${q.category}${sure}`, title: `${title} — change it (c)`,
      onclick: (e) => { e.stopPropagation(); startEdit(q.id, "category"); } }));
  }
  const alike = q.triage_group_id != null ? (counts.groups || {})[String(q.triage_group_id)] : 0;
  if (alike > 1) chips.push(el("span", { class: "chip group", "data-group": String(q.triage_group_id), text: `${alike} alike`, title: `Triage found ${alike} questions alike: merge them to answer once` }));
  return chips;
}

function card(q, name) {
  const meta = [asker(q), q.source, timeOf(q.created_at), q.lang].filter(Boolean).join(" · ");
  const li = el("li", {
    class: `q${q.id === selected ? " selected" : ""}`, "data-id": String(q.id), tabIndex: -1,
    onclick: () => { selected = q.id; render(); },
  },
  el("div", { class: "meta" }, pickBox(q), el("span", { text: meta }),
    ...triageChips(q),
    q.text !== q.original_text ? el("span", { class: "chip", text: "edited", title: `Original: ${q.original_text}` }) : null,
    // X lets the account reply only to askers who mentioned it; the others get a standalone post.
    q.x_options && q.x_options.includes("reply")
      ? el("span", { class: "chip", text: "X reply", title: "The asker mentioned the account: X allows a reply." }) : null),
  editing && editing.id === q.id && editing.field === "category" ? editor(q) : null,
  editing && editing.id === q.id && editing.field === "text" ? editor(q) : el("p", { class: "text", text: q.text }),
  q.triage_reason ? el("p", { class: "triage-reason", text: `Triage: ${q.triage_reason}` }) : null,
  editing && editing.id === q.id && editing.field === "note" ? editor(q)
    : (q.note ? el("p", { class: "note", text: `Note: ${q.note}` }) : null),
  q.answer ? el("p", { class: "answer", text: `↳ ${q.answer.text}` }) : null,
  askersOf(q),
  q.answer ? deliveryLine(q.answer, q) : null,
  q.answer ? askerRepliesLine(q.answer, q) : null,
  q.status_changed_by ? el("div", { class: "by", text: `${q.status.replace("_", " ")} by ${q.status_changed_by}` }) : null,
  actionsFor(q));
  if (name === "approved") {
    li.draggable = true;
    li.addEventListener("dragstart", (event) => { event.dataTransfer.setData("text/plain", String(q.id)); li.classList.add("dragging"); });
    li.addEventListener("dragend", () => li.classList.remove("dragging"));
    li.addEventListener("dragover", (event) => event.preventDefault());
    li.addEventListener("drop", (event) => {
      event.preventDefault();
      const moved = Number(event.dataTransfer.getData("text/plain"));
      if (moved && moved !== q.id) placeBefore(moved, q.id);
    });
  }
  return li;
}

let scheduled = false;
function render() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => { scheduled = false; draw(); });
}

function draw() {
  // Moving the open editor into its redrawn card takes its focus away: given back below.
  const typing = editing?.node?.contains(document.activeElement) ? document.activeElement : null;
  for (const [name, spec] of Object.entries(LISTS)) {
    const items = itemsOf(name);
    const list = document.getElementById(`list-${name}`);
    const shown = items.slice(0, spec.limit);
    const children = shown.map((q) => card(q, name));
    const total = name === "pending" && !anyFilter()
      ? Math.max((counts.status.pending || 0) - itemsOf("complaints").length, items.length) : items.length;
    if (total > shown.length) {
      children.push(el("li", { class: "more" }, button(`Show more (${total - shown.length} not shown)`, "", () => more(name))));
    }
    list.replaceChildren(...children);
  }
  if (typing && typing.isConnected && document.activeElement !== typing) typing.focus();
  const s = counts.status;
  document.getElementById("counters").replaceChildren(
    ...[["pending", "incoming"], ["approved", "queued"], ["on_air", "on air"], ["answered", "answered"], ["rejected", "rejected"], ["archived", "archived"]]
      .map(([key, label]) => el("span", { class: "counter", "data-status": key, text: `${s[key] || 0} ${label}` })));
  const categories = document.getElementById("categories");
  categories.replaceChildren(...Object.entries(counts.category).sort().map(([name, n]) =>
    el("span", { class: `chip cat-${name}`, text: `${name} ${n}` })));
}

function anyFilter() { return Object.values(filters).some(Boolean); }

async function more(name) {
  const spec = LISTS[name];
  spec.limit += PAGE;
  const loaded = itemsOf(name).length;
  if (name === "pending" && loaded < spec.limit) await load("pending", loaded);
  render();
}

async function load(status, offset = 0) {
  const params = new URLSearchParams({ status, limit: String(PAGE), offset: String(offset) });
  for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
  const page = await api(`/api/v1/events/${slug}/questions?${params}`);
  for (const q of page.items) {
    keepNewest(questions, q);  // the socket may already have brought a newer version
  }
}

let countsTimer = null;
function refreshCounts() {
  if (countsTimer) return;
  countsTimer = setTimeout(async () => {
    countsTimer = null;
    try { counts = await api(`/api/v1/events/${slug}/counts`); render(); } catch { /* next update retries */ }
  }, 500);
}

async function run(id, action, body = {}) {
  const q = questions.get(id);
  if (!q) return;
  const following = id === selected ? nextInList(id) : selected;
  try {
    const updated = await api(`/api/v1/questions/${id}/${action}`, { method: "POST", body: { version: q.version, ...body } });
    keepNewest(questions, updated);
    if (action !== "undo") {
      // With nothing left in that list, the selection stays with the question just moved.
      selected = following ?? id;
      lastAction = { id, label: action };
    }
    say(`#${id} ${updated.status.replace("_", " ")}.`, "info", action !== "undo");
    refreshCounts();
    render();
  } catch (error) {
    say(error.message, "error");
    if (error.status === 409) refetch(id);
  }
}

async function refetch(id) {
  try { const fresh = await api(`/api/v1/questions/${id}`); questions.set(id, fresh); render(); } catch { /* gone */ }
}

function undoLast() {
  if (lastAction) { const { id } = lastAction; lastAction = null; run(id, "undo"); }
}

async function patch(q, body) {
  try {
    const updated = await api(`/api/v1/questions/${q.id}`, { method: "PATCH", body: { version: q.version, ...body } });
    keepNewest(questions, updated);
    render();
    return true;
  } catch (error) {
    say(error.message, "error");
    if (error.status === 409) refetch(q.id);
    return false;
  }
}

function startEdit(id, field) { selected = id; editing = { id, field }; render(); }

async function save(q, field, value) {
  const body = field === "category" ? { category: value || null } : { [field]: field === "text" ? value.trim() : value };
  if (await patch(q, body)) {
    editing = null;
    say(field === "text" ? `#${q.id} edited (the original is kept).`
      : field === "category" ? `#${q.id} filed as ${value || "uncategorised"} (kept to improve triage).`
      : `#${q.id} note saved.`);
    render();
  }
}

function placeBefore(movedId, beforeId) {
  const queue = itemsOf("approved").filter((q) => q.id !== movedId);
  const index = queue.findIndex((q) => q.id === beforeId);
  positionAt(movedId, queue, index);
}

// Put a queued question at ``index`` of ``queue`` (which excludes it): halfway between its new
// neighbours, so one row changes.
function positionAt(movedId, queue, index) {
  const before = queue[index - 1];
  const after = queue[index];
  let position;
  if (!before && !after) return;
  if (!before) position = after.queue_position - 1;
  else if (!after) position = before.queue_position + 1;
  else position = (before.queue_position + after.queue_position) / 2;
  patch(questions.get(movedId), { queue_position: position });
}

function shiftInQueue(id, delta) {
  const queue = itemsOf("approved");
  const index = queue.findIndex((q) => q.id === id);
  if (index < 0) return;
  const target = index + delta;
  if (target < 0 || target >= queue.length) return;
  const others = queue.filter((q) => q.id !== id);
  positionAt(id, others, target);
}

function visibleOrder() {
  return Object.keys(LISTS).flatMap((name) => itemsOf(name).slice(0, LISTS[name].limit).map((q) => q.id));
}

function nextInList(id) {
  const q = questions.get(id);
  const name = Object.keys(LISTS).find((n) => LISTS[n].statuses.includes(q.status));
  if (!name) return null; // merged into another: in no list
  const list = itemsOf(name).map((item) => item.id);
  const index = list.indexOf(id);
  return list[index + 1] ?? list[index - 1] ?? null;
}

function move(delta) {
  const order = visibleOrder();
  if (!order.length) return;
  const index = order.indexOf(selected);
  selected = order[Math.max(0, Math.min(order.length - 1, index < 0 ? 0 : index + delta))];
  draw();
  document.querySelector(`li[data-id="${selected}"]`)?.scrollIntoView({ block: "nearest" });
}

const KEYS = { a: "approve", r: "reject", o: "on-air", x: "archive", u: "undo", m: "mark-answered" };
document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select") || event.metaKey || event.ctrlKey || event.altKey) return;
  if (event.key === "j") move(1);
  else if (event.key === "k") move(-1);
  else if (event.key === "J" && selected !== null) shiftInQueue(selected, 1);
  else if (event.key === "K" && selected !== null) shiftInQueue(selected, -1);
  else if (event.key === "/") document.getElementById("search").focus();
  else if (event.key === "z") undoLast();
  else if (event.key === "g" && selected !== null && MERGEABLE.includes(questions.get(selected)?.status)) togglePick(selected);
  else if ((event.key === "e" || event.key === "n") && selected !== null) startEdit(selected, event.key === "e" ? "text" : "note");
  else if (event.key === "c" && selected !== null) startEdit(selected, "category");
  else if (KEYS[event.key] && selected !== null) run(selected, KEYS[event.key]);
  else return;
  event.preventDefault();
});

let filterTimer = null;
function onFilter() {
  const form = document.getElementById("filters");
  for (const key of Object.keys(filters)) filters[key] = form.elements[key].value.trim();
  render();
  clearTimeout(filterTimer);
  // Ask the server too, so matches beyond what is loaded show up.
  filterTimer = setTimeout(async () => {
    try { await Promise.all(["pending", "approved", "answered"].map((s) => load(s))); render(); } catch (error) { say(error.message, "error"); }
  }, 250);
}
document.getElementById("filters").addEventListener("input", onFilter);
document.getElementById("filters").addEventListener("submit", (event) => event.preventDefault());

connect({
  slug: liveEvent.slug,
  channel: "moderation",
  seq: initial.seq,
  onStatus: showStatus(document.getElementById("conn")),
  onUpdate(message) {
    if (message.type === "question") {
      keepNewest(questions, message.question);
      // Merged by someone else, or moved on: nothing to pick any more.
      if (!MERGEABLE.includes(message.question.status)) picked.delete(message.question.id);
      refreshCounts();
      render();
    }
  },
});
draw();
