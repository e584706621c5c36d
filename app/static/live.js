import { api, asker, connect, el, readJson, showStatus, timeOf } from "/static/realtime.js";

const initial = readJson("initial");
const liveEvent = readJson("live-event");
const questions = new Map();
if (initial.on_air) questions.set(initial.on_air.id, initial.on_air);
for (const q of initial.answered) questions.set(q.id, q);
const announcer = document.getElementById("announcer");

function render() {
  const current = [...questions.values()].find((q) => q.status === "on_air");
  const box = document.getElementById("onair");
  box.replaceChildren(current
    ? el("blockquote", { class: "onair-text" }, el("p", { text: current.text }), el("footer", { text: asker(current) }))
    : el("p", { class: "muted", text: "No question on air yet." }));
  const answered = [...questions.values()].filter((q) => q.status === "answered")
    .sort((a, b) => b.status_changed_at.localeCompare(a.status_changed_at));
  document.getElementById("answered").replaceChildren(...answered.map((q) => el("li", { "data-id": String(q.id) },
    el("p", { class: "question" }, el("strong", { text: asker(q) }), " ", el("span", { text: q.text })),
    q.answer ? el("p", { class: "answer", text: q.answer.text }) : null,
    el("p", { class: "meta", text: q.answer ? `${q.answer.author_name} · ${timeOf(q.answer.created_at)}` : "" }))));
}

connect({
  slug: liveEvent.slug,
  channel: "public",
  seq: initial.seq,
  onStatus: showStatus(document.getElementById("conn")),
  onUpdate(message) {
    if (message.type === "question") {
      const before = questions.get(message.question.id);
      questions.set(message.question.id, message.question);
      if (message.question.status === "answered" && message.question.answer && (!before || before.status !== "answered")) {
        announcer.textContent = `New answer to ${asker(message.question)}: ${message.question.answer.text}`;
      } else if (message.question.status === "on_air") {
        announcer.textContent = `On air: ${message.question.text}`;
      }
    } else if (message.type === "question.removed") {
      questions.delete(message.id);
    }
    render();
  },
});

const form = document.getElementById("ask");
const status = document.getElementById("ask-status");
const counter = document.getElementById("ask-count");
form.text.addEventListener("input", () => { counter.textContent = `${[...form.text.value].length} / 500`; });
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = form.text.value.trim();
  if (!text) { status.textContent = "Please type your question first."; return; }
  try {
    await api(`/api/v1/events/${encodeURIComponent(liveEvent.slug)}/questions`, {
      method: "POST", body: { text, author_name: form.author_name.value.trim() || null } });
    form.text.value = "";
    counter.textContent = "0 / 500";
    status.textContent = "Thank you! Your question was sent to the moderators.";
  } catch (error) {
    status.textContent = `Not sent: ${error.message}`;
  }
});
render();
