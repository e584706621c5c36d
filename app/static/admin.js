// Operator pages: create and edit LiveEvents, open and close them, copy the embed snippet, edit
// the editorial charter.
import { api } from "/static/realtime.js";

const form = document.getElementById("event-form");
const status = document.getElementById("form-status");

// datetime-local inputs speak the browser's local time; the API wants an aware ISO time.
for (const input of form.querySelectorAll("input[data-utc]")) {
  if (input.dataset.utc) {
    const d = new Date(input.dataset.utc);
    input.value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  }
}

function payload() {
  const f = form.elements;
  const body = {
    title: f.title.value.trim(),
    hashtags: f.hashtags.value.split(/[,\s]+/).map((h) => h.trim()).filter(Boolean),
    answering_handle: f.answering_handle.value.trim(),
    spokesperson: f.spokesperson.value.trim(),
    description: f.description.value.trim(),
    starts_at: f.starts_at.value ? new Date(f.starts_at.value).toISOString() : null,
    ends_at: f.ends_at.value ? new Date(f.ends_at.value).toISOString() : null,
  };
  if (f.stream_url.value.trim()) body.stream_url = f.stream_url.value.trim();
  body.embed_origins = f.embed_origins.value.split(/[,\s]+/).map((o) => o.trim()).filter(Boolean);
  if (f.slug) body.slug = f.slug.value.trim();
  return body;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  status.className = "";
  status.textContent = "Saving…";
  try {
    if (form.dataset.mode === "create") {
      const created = await api("/api/v1/events", { method: "POST", body: payload() });
      location.href = `/admin/events/${encodeURIComponent(created.slug)}`;
    } else {
      await api(`/api/v1/events/${encodeURIComponent(form.dataset.slug)}`, { method: "PATCH", body: payload() });
      status.textContent = "Saved.";
    }
  } catch (error) {
    status.className = "form-error";
    status.textContent = error.message;
  }
});

for (const button of document.querySelectorAll("button[data-state]")) {
  button.addEventListener("click", async () => {
    try {
      await api(`/api/v1/events/${encodeURIComponent(form.dataset.slug)}`, { method: "PATCH", body: { state: button.dataset.state } });
      location.reload();
    } catch (error) {
      status.className = "form-error";
      status.textContent = error.message;
    }
  });
}

const copy = document.getElementById("copy");
if (copy) {
  copy.addEventListener("click", async () => {
    const snippet = document.getElementById("snippet");
    try {
      await navigator.clipboard.writeText(snippet.value);
    } catch {
      snippet.select(); // clipboard refused (no https): leave it selected for Ctrl+C
    }
    document.getElementById("copy-status").textContent = "Copied.";
  });
}

const sourceStatus = document.getElementById("source-status");
async function sourceAction(path, body) {
  sourceStatus.className = "";
  sourceStatus.textContent = "Working…";
  try {
    const result = await api(path, { method: "POST", body });
    return result;
  } catch (error) {
    sourceStatus.className = "form-error";
    sourceStatus.textContent = error.message;
    return null;
  }
}
for (const button of document.querySelectorAll("button[data-add-source]")) {
  button.addEventListener("click", async () => {
    const body = { kind: button.dataset.addSource, require_mention: document.getElementById("require-mention").checked };
    if (await sourceAction(`/api/v1/events/${encodeURIComponent(form.dataset.slug)}/sources`, body)) location.reload();
  });
}
for (const button of document.querySelectorAll("button[data-restart]")) {
  button.addEventListener("click", async () => {
    if (await sourceAction(`/api/v1/events/${encodeURIComponent(form.dataset.slug)}/sources/${button.dataset.restart}/restart`)) location.reload();
  });
}
const testX = document.getElementById("test-x");
if (testX) {
  testX.addEventListener("click", async () => {
    const me = await sourceAction("/api/v1/x/test-connection");
    if (me) sourceStatus.textContent = `Connected: Tribune posts as @${me.username}.`;
  });
}

// The LiveEvent's team: who may moderate and present it.
const teamForm = document.getElementById("team-form");
const teamStatus = document.getElementById("team-status");
async function teamAction(username, options) {
  teamStatus.className = "";
  teamStatus.textContent = "Working…";
  try {
    const path = `/api/v1/events/${encodeURIComponent(form.dataset.slug)}/team/${encodeURIComponent(username)}`;
    await api(path, options);
    location.reload();
  } catch (error) {
    teamStatus.className = "form-error";
    teamStatus.textContent = error.message;
  }
}
if (teamForm) {
  teamForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const username = teamForm.elements.username.value.trim();
    if (username) teamAction(username, { method: "PUT", body: { role: teamForm.elements.role.value } });
  });
  for (const button of document.querySelectorAll("button[data-remove-member]")) {
    button.addEventListener("click", () => teamAction(button.dataset.removeMember, { method: "DELETE" }));
  }
}

// The editorial charter: saved whole (PUT); the server validates it and says what is wrong.
const charterForm = document.getElementById("charter-form");
if (charterForm) {
  const charterStatus = document.getElementById("charter-status");
  const lines = (value) => value.split("\n").map((line) => line.trim()).filter(Boolean);
  const templates = document.getElementById("charter-templates");
  const removable = (root) => {
    for (const button of root.querySelectorAll("button[data-remove-template]")) {
      button.addEventListener("click", () => button.closest("fieldset").remove());
    }
  };
  removable(templates);
  document.getElementById("add-template").addEventListener("click", () => {
    const row = document.getElementById("charter-template-row").content.cloneNode(true);
    removable(row);
    templates.append(row);
    templates.lastElementChild.querySelector("input").focus();
  });
  charterForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = charterForm.elements;
    const limit = (name) => (f[name].value.trim() ? Number(f[name].value) : null);
    const body = {
      signature: f.signature.value.trim(),
      forbidden_words: lines(f.forbidden_words.value),
      dismissive_words: lines(f.dismissive_words.value),
      max_exclamation_marks: Number(f.max_exclamation_marks.value || 1),
      max_length: { x: limit("max_length_x"), mastodon: limit("max_length_mastodon"), bluesky: limit("max_length_bluesky"), page: limit("max_length_page") },
      link_policy: f.link_policy.value,
      link_domains: f.link_domains.value.split(/[,\s]+/).map((d) => d.trim()).filter(Boolean),
      mention_policy: f.mention_policy.value,
      severity: Object.fromEntries([...charterForm.querySelectorAll("select[data-severity]")].map((s) => [s.dataset.severity, s.value])),
      templates: [...templates.querySelectorAll("fieldset")].map((row) => ({
        name: row.querySelector('[data-field="name"]').value.trim(),
        kind: row.querySelector('[data-field="kind"]').value,
        text: row.querySelector('[data-field="text"]').value.trim(),
      })),
    };
    charterStatus.className = "";
    charterStatus.textContent = "Saving…";
    try {
      await api(`/api/v1/events/${encodeURIComponent(form.dataset.slug)}/charter`, { method: "PUT", body });
      charterStatus.textContent = "Charter saved.";
    } catch (error) {
      charterStatus.className = "form-error";
      charterStatus.textContent = error.message;
    }
  });
}

// The LiveEvent's triage rules: lists one item a line, replaced as a whole.
const triageForm = document.getElementById("triage-form");
if (triageForm) {
  const lines = (name) => triageForm.elements[name].value.split("\n").map((w) => w.trim()).filter(Boolean);
  triageForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const triageStatus = document.getElementById("triage-status");
    triageStatus.className = "";
    triageStatus.textContent = "Saving…";
    try {
      await api(`/api/v1/events/${encodeURIComponent(triageForm.dataset.slug)}/triage/rules`, {
        method: "PUT",
        body: {
          blocked_words: lines("blocked_words"),
          blocked_accounts: lines("blocked_accounts"),
          auto_approve_accounts: lines("auto_approve_accounts"),
          profanity: triageForm.elements.profanity.checked,
          reject_spam: triageForm.elements.reject_spam.checked,
        },
      });
      triageStatus.textContent = "Applied: new questions are triaged with these rules.";
    } catch (error) {
      triageStatus.className = "form-error";
      triageStatus.textContent = error.message;
    }
  });
}
