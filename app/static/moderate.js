import { api, asker, connect, el, readJson, showStatus, timeOf } from "/static/realtime.js";

const initial = readJson("initial");
const liveEvent = readJson("live-event");
const questions = new Map(initial.questions.map((q) => [q.id, q]));
const LISTS = ["pending", "approved", "on_air", "answered"];
let selected = null;

const flash = document.getElementById("flash");
function say(text, kind = "info") {
  flash.textContent = text;
  flash.dataset.kind = kind;
}

function sorted(status) {
  const items = [...questions.values()].filter((q) => q.status === status);
  if (status === "approved") items.sort((a, b) => a.queue_position - b.queue_position || a.id - b.id);
  else if (status === "answered") items.sort((a, b) => b.status_changed_at.localeCompare(a.status_changed_at));
  else items.sort((a, b) => a.id - b.id);
  return items;
}

function actionsFor(q) {
  const buttons = [];
  const add = (label, action, key) => buttons.push(
    el("button", { type: "button", text: label, title: `${label} (${key})`, onclick: () => act(q.id, action) }));
  if (q.status === "pending") { add("Approve", "approve", "a"); add("Reject", "reject", "r"); }
  if (q.status === "approved") { add("On air", "on-air", "o"); add("Reject", "reject", "r"); }
  if (q.status !== "archived") add("Archive", "archive", "x");
  add("Undo", "undo", "u");
  return el("div", { class: "actions" }, ...buttons);
}

function render() {
  const counts = {};
  for (const status of LISTS) {
    const list = document.getElementById(`list-${status}`);
    const items = sorted(status);
    counts[status] = items.length;
    list.replaceChildren(...items.map((q) => el("li", {
      class: `q${q.id === selected ? " selected" : ""}`, "data-id": String(q.id), tabIndex: -1,
      onclick: () => { selected = q.id; render(); },
    },
      el("div", { class: "meta", text: `${asker(q)} · ${q.source} · ${timeOf(q.created_at)}${q.category ? " · " + q.category : ""}` }),
      el("p", { class: "text", text: q.text }),
      q.answer ? el("p", { class: "answer", text: `↳ ${q.answer.text}` }) : null,
      q.status_changed_by ? el("div", { class: "by", text: `${q.status.replace("_", " ")} by ${q.status_changed_by}` }) : null,
      actionsFor(q))));
  }
  document.getElementById("counters").textContent =
    `${counts.pending} incoming · ${counts.approved} queued · ${counts.answered} answered`;
}

// After acting on the selected question, the selection moves on to the next one in the same
// list, as in an inbox: a moderator can approve a run of questions with "a a a".
function nextInList(id) {
  const q = questions.get(id);
  const list = sorted(q.status).map((item) => item.id);
  const index = list.indexOf(id);
  return list[index + 1] ?? list[index - 1] ?? null;
}

async function act(id, action) {
  const q = questions.get(id);
  const following = id === selected ? nextInList(id) : selected;
  try {
    const updated = await api(`/api/v1/questions/${id}/${action}`, { method: "POST", body: { version: q.version } });
    questions.set(updated.id, updated);
    // With nothing left in that list, the selection stays with the question just moved.
    if (action !== "undo") selected = following ?? id;
    say(`Question ${id}: ${updated.status.replace("_", " ")}.`);
    render();
  } catch (error) {
    say(error.message, "error");
  }
}

function move(delta) {
  const order = LISTS.flatMap((s) => sorted(s).map((q) => q.id));
  if (!order.length) return;
  const index = order.indexOf(selected);
  selected = order[Math.max(0, Math.min(order.length - 1, index < 0 ? 0 : index + delta))];
  render();
  document.querySelector(`li[data-id="${selected}"]`)?.scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select") || event.metaKey || event.ctrlKey || event.altKey) return;
  const keys = { a: "approve", r: "reject", o: "on-air", x: "archive", u: "undo" };
  if (event.key === "j") move(1);
  else if (event.key === "k") move(-1);
  else if (keys[event.key] && selected !== null) act(selected, keys[event.key]);
  else return;
  event.preventDefault();
});

connect({
  slug: liveEvent.slug,
  channel: "moderation",
  seq: initial.seq,
  onStatus: showStatus(document.getElementById("conn")),
  onUpdate(message) {
    if (message.type === "question") {
      questions.set(message.question.id, message.question);
      render();
    }
  },
});
render();
