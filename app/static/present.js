import { api, asker, connect, el, readJson, showStatus } from "/static/realtime.js";

const initial = readJson("initial");
const liveEvent = readJson("live-event");
const questions = new Map(initial.questions.map((q) => [q.id, q]));
const composer = document.getElementById("composer");
const textarea = document.getElementById("answer-text");
const count = document.getElementById("count");
// X counts 280 weighted characters a post; longer answers become a thread.
const X_LIMIT = 280;

function onAir() {
  return [...questions.values()].find((q) => q.status === "on_air") || null;
}

function render() {
  const current = onAir();
  const box = document.getElementById("onair");
  if (current) {
    box.replaceChildren(
      el("p", { class: "onair-text", text: current.text }),
      el("p", { class: "meta", text: `${asker(current)} · ${current.source}` }));
    box.dataset.id = String(current.id);
    composer.hidden = false;
  } else {
    box.replaceChildren(el("p", { class: "muted", text: "Nothing on air." }));
    delete box.dataset.id;
    composer.hidden = true;
  }
  const next = [...questions.values()].filter((q) => q.status === "approved")
    .sort((a, b) => a.queue_position - b.queue_position || a.id - b.id).slice(0, 3);
  document.getElementById("next").replaceChildren(...next.map((q) => el("li", { class: "q", "data-id": String(q.id) },
    el("p", { class: "text", text: q.text }), el("div", { class: "meta", text: asker(q) }),
    el("button", { type: "button", text: "On air", onclick: () => sendOnAir(q) }))));
}

async function sendOnAir(q) {
  try {
    const updated = await api(`/api/v1/questions/${q.id}/on-air`, { method: "POST", body: { version: q.version } });
    questions.set(updated.id, updated);
    render();
  } catch (error) {
    count.textContent = error.message;
  }
}

function updateCount() {
  const length = [...textarea.value].length;
  const posts = Math.max(1, Math.ceil(length / X_LIMIT));
  count.textContent = `${length} characters · X: ${length <= X_LIMIT ? `${X_LIMIT - length} left` : `${posts} posts (thread)`}`;
}
textarea.addEventListener("input", updateCount);

composer.addEventListener("submit", async (event) => {
  event.preventDefault();
  const current = onAir();
  if (!current || !textarea.value.trim()) return;
  try {
    await api(`/api/v1/questions/${current.id}/answers`, { method: "POST", body: { text: textarea.value } });
    textarea.value = "";
    updateCount();
  } catch (error) {
    count.textContent = error.message;
  }
});

const clock = document.getElementById("clock");
const timer = document.getElementById("timer");
setInterval(() => {
  clock.textContent = new Date().toLocaleTimeString();
  const current = onAir();
  if (current) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(current.status_changed_at)) / 1000));
    timer.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  } else timer.textContent = "";
}, 1000);

connect({
  slug: liveEvent.slug,
  channel: "presenter",
  seq: initial.seq,
  onStatus: showStatus(document.getElementById("conn")),
  onUpdate(message) {
    if (message.type === "question") questions.set(message.question.id, message.question);
    else if (message.type === "question.removed") questions.delete(message.id);
    render();
  },
});
render();
updateCount();
