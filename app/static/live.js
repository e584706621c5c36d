// The audience page: the question on air, the answered Q&A, and the "Ask a question" form.
// The server renders the first state; this keeps it live. Text goes in via textContent only.
import { api, asker, connect, el, readJson, showStatus, timeOf } from "/static/realtime.js";

const MAX_QUESTION = 500;
const initial = readJson("initial");
const liveEvent = readJson("live-event");
const questions = new Map();
if (initial.on_air) questions.set(initial.on_air.id, initial.on_air);
for (const q of initial.answered) questions.set(q.id, q);
const announcer = document.getElementById("announcer");

// The answer's own post only: the replies to the askers merged into the question are theirs.
function networkLinks(q) {
  return q.answer.deliveries.filter((d) => /^https?:\/\//.test(d.url) && d.part === 1 && d.question_id === q.id).map((d) => [" · ",
    el("a", { class: "network-link", href: d.url, rel: "noopener noreferrer nofollow ugc", target: "_blank",
      text: `See it on ${d.target === "x" ? "X" : d.target}` })]).flat();
}

function render() {
  const current = [...questions.values()].find((q) => q.status === "on_air");
  const box = document.getElementById("onair");
  box.replaceChildren(current
    ? el("blockquote", { class: "onair-text", "data-id": String(current.id) }, el("p", { text: current.text }), el("footer", { text: asker(current) }))
    : el("p", { class: "muted", text: "No question on air yet." }));
  const answered = [...questions.values()].filter((q) => q.status === "answered")
    .sort((a, b) => b.status_changed_at.localeCompare(a.status_changed_at) || b.id - a.id);
  document.getElementById("answered").replaceChildren(...answered.map((q) => el("li", { "data-id": String(q.id) },
    el("p", { class: "question" }, el("strong", { text: asker(q) }), " ", el("span", { text: q.text }),
      q.asked_by > 1 ? el("small", { class: "asked-by", text: ` asked by ${q.asked_by} people` }) : null),
    q.answer ? el("p", { class: "answer", text: q.answer.text }) : null,
    q.answer
      ? el("p", { class: "meta" }, `${q.answer.author_name} · `, el("time", { dateTime: q.answer.created_at, text: timeOf(q.answer.created_at) }), ...networkLinks(q))
      : el("p", { class: "meta", text: "Answered on the stream." }))));
}

connect({
  slug: liveEvent.slug,
  channel: "public",
  seq: initial.seq,
  onStatus: showStatus(document.getElementById("conn")),
  onUpdate(message) {
    if (message.type === "question") {
      const q = message.question;
      const before = questions.get(q.id);
      questions.set(q.id, q);
      if (q.status === "answered" && (!before || before.status !== "answered")) {
        announcer.textContent = q.answer
          ? `New answer to ${asker(q)}: ${q.answer.text}`
          : `${asker(q)}'s question was answered on the stream.`;
      } else if (q.status === "on_air" && (!before || before.status !== "on_air")) {
        announcer.textContent = `On air: ${q.text}`;
      }
    } else if (message.type === "question.removed") {
      questions.delete(message.id);
    } else if (message.type === "live_event" && message.live_event.state !== liveEvent.state) {
      location.reload(); // opened or closed: the stream box changes, a fresh page is simplest
      return;
    }
    render();
  },
});

const form = document.getElementById("ask");
if (form) {
  const status = document.getElementById("ask-status");
  const counter = document.getElementById("ask-count");
  const length = () => [...form.text.value.trim()].length;
  const showCount = () => {
    counter.textContent = `${length()} / ${MAX_QUESTION}`;
    counter.classList.toggle("over", length() > MAX_QUESTION);
  };
  const fail = (text) => { status.textContent = text; status.className = "form-error"; form.text.setAttribute("aria-invalid", "true"); };
  form.text.addEventListener("input", showCount);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = form.text.value.trim();
    if (!text) return fail("Please type your question first.");
    if (length() > MAX_QUESTION) return fail(`Your question is ${length()} characters long; the limit is ${MAX_QUESTION}.`);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api(`/api/v1/events/${encodeURIComponent(liveEvent.slug)}/questions`, {
        method: "POST", body: { text, author_name: form.author_name.value.trim() || null } });
      form.text.value = "";
      form.text.removeAttribute("aria-invalid");
      showCount();
      status.className = "";
      status.textContent = "Thank you! Your question was sent to the moderators.";
    } catch (error) {
      fail(`Not sent: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  });
}
render();
