// The complaints desk: every complaint as a case with its SLA countdown, assignee, status,
// notes and follow-up to the asker; "move to stage" hands one to the spokesperson. Live over
// the moderation channel: a complaint categorised anywhere (console, triage) arrives here.
import { api, asker, connect, el, readJson, showStatus, timeOf } from "/static/realtime.js";

const initial = readJson("initial");
const liveEvent = readJson("live-event");
const team = readJson("team");
const options = readJson("desk-options");
const slug = encodeURIComponent(liveEvent.slug);
let settings = initial.settings;
const cases = new Map(initial.cases.map((c) => [c.question_id, c]));
const cards = new Map(); // question_id → { li, parts } built once shown, then updated in place
// Cards shown per list, more on demand: a flood of complaints must not make every change
// re-render thousands of cards. Open cases are sorted by due time, so the first are the urgent.
const PAGE = 100;
const loadedAt = Date.now();
const shown = { open: PAGE, closed: PAGE };
// In a flood the server sends part of the complaints (its caps; the CSV export has them all).
// Such a desk counts the rest from the server's totals, read again after changes; any other
// desk knows every complaint, and counts what it knows.
const capped = initial.open_total + initial.resolved_total > initial.cases.length;
let totals = { open: initial.open_total, closed: initial.resolved_total };
let recount = null;

function refreshTotals() {
  if (!capped || recount) return;
  recount = setTimeout(async () => {
    try {
      const found = await api(`/api/v1/events/${slug}/complaints/totals`);
      totals = { open: found.open_total, closed: found.resolved_total };
      render();
    } catch { /* the next change reads them again */ } finally { recount = null; }
  }, 1000);
}

const LABELS = { open: "Open", in_progress: "In progress", waiting_customer: "Waiting for the customer", resolved: "Resolved" };
const flash = document.getElementById("flash");
const arrivals = document.getElementById("arrivals");

function say(text, kind = "info") {
  flash.textContent = text;
  flash.dataset.kind = kind;
}

// The SLA's due time: from the complaint's arrival, so a change of the SLA moves every timer.
function dueOf(c) {
  return new Date(c.received_at).getTime() + settings.sla_minutes * 60000;
}

function clock(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h} h ${String(m).padStart(2, "0")} min` : `${m}:${s}`;
}

function slaText(c) {
  const due = dueOf(c);
  if (c.first_response_at) {
    const took = new Date(c.first_response_at).getTime() - new Date(c.received_at).getTime();
    return { text: `answered in ${clock(took)}${new Date(c.first_response_at).getTime() > due ? " (late)" : ""}`, overdue: false };
  }
  if (c.status === "resolved") return { text: "resolved", overdue: false };
  const left = due - Date.now();
  return left >= 0 ? { text: `due in ${clock(left)}`, overdue: false } : { text: `overdue by ${clock(-left)}`, overdue: true };
}

function select(label, values, current, onchange) {
  const node = el("select", { onchange: (event) => onchange(event.target.value) },
    ...values.map(([value, text]) => el("option", { value, text })));
  node.value = current;
  return el("label", { class: "inline-label" }, label, node);
}

async function change(c, body) {
  try {
    store(await api(`/api/v1/complaints/${c.question_id}`, { method: "PATCH", body: { version: c.version, ...body } }));
    return true;
  } catch (error) {
    say(error.message, "error");
    if (error.status === 409) refetch(c.question_id);
    return false;
  }
}

async function refetch(id) {
  try { store(await api(`/api/v1/complaints/${id}`)); } catch { /* gone */ }
}

async function moveToStage(c) {
  try {
    store(await api(`/api/v1/complaints/${c.question_id}/move-to-stage`, { method: "POST", body: { version: c.version } }));
    say(`#${c.question_id} moved to the stage: moderators can approve it for the spokesperson.`);
  } catch (error) { say(error.message, "error"); }
}

// X's price of the reply: a URL makes a post cost many times more.
function spendText(spend) {
  if (!spend) return "";
  const urls = spend.url_posts ? ` (${spend.url_posts} with a URL)` : "";
  return `As an X reply: ${spend.posts.length} post${spend.posts.length > 1 ? "s" : ""}${urls}, about $${Number(spend.usd).toFixed(3)}.`;
}

function problemList(problems) {
  return problems.map((p) => el("li", { class: p.hard ? "hard" : "", text: `${p.hard ? "Blocks: " : "Warning: "}${p.message}` }));
}

// The follow-up editor: the charter's complaint follow-up template filled in (another can be
// picked), checked as the moderator types.
async function openFollowup(c, box) {
  let proposal;
  try { proposal = await api(`/api/v1/complaints/${c.question_id}/followup`); } catch (error) { say(error.message, "error"); return; }
  const id = `followup-${c.question_id}`;
  const text = el("textarea", { id, rows: 3, value: proposal.text });
  const problems = el("ul", { class: "problems", "aria-live": "polite" }, ...problemList(proposal.problems));
  const price = el("p", { class: "muted", text: spendText(proposal.spend) });
  let hard = proposal.problems.some((p) => p.hard);
  const override = el("button", { type: "button", class: "secondary", text: "Send anyway (override, recorded)", hidden: !hard });
  let timer = null;
  const picker = proposal.templates.length > 1 ? el("label", { text: "Template " },
    el("select", { onchange: (event) => {
      text.value = proposal.templates[Number(event.target.value)].text;
      text.dispatchEvent(new Event("input"));
    } }, ...proposal.templates.map((t, i) => el("option", { value: String(i), text: t.name })))) : null;
  text.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const found = await api(`/api/v1/complaints/${c.question_id}/followup/check`, { method: "POST", body: { text: text.value } });
        problems.replaceChildren(...problemList(found.problems));
        price.textContent = spendText(found.spend);
        hard = found.problems.some((p) => p.hard);
        override.hidden = !hard;
      } catch { /* the send says it too */ }
    }, 200);
  });
  async function send(via, force = false) {
    const current = cases.get(c.question_id);
    try {
      if (via === "copied" && navigator.clipboard) await navigator.clipboard.writeText(text.value).catch(() => {});
      store(await api(`/api/v1/complaints/${c.question_id}/followup`, {
        method: "POST", body: { text: text.value, via, version: current.version, override: force } }));
      box.replaceChildren();
      say(via === "x_reply" ? `Follow-up to ${asker(c)} queued as an X reply.` : `Follow-up copied: send it to ${asker(c)} yourself.`);
    } catch (error) { say(error.message, "error"); }
  }
  const canReply = proposal.can_reply;
  override.onclick = () => send(canReply ? "x_reply" : "copied", true);
  box.replaceChildren(
    picker, el("label", { htmlFor: id, text: `Follow-up to ${asker(c)}` }), text, problems, canReply ? price : null,
    canReply ? null : el("p", { class: "muted", text: `No X reply: ${proposal.reply_blocked_because}.` }),
    el("div", { class: "actions" },
      canReply ? el("button", { type: "button", class: "primary", text: "Send as X reply", onclick: () => send("x_reply") }) : null,
      el("button", { type: "button", class: canReply ? "secondary" : "primary", text: "Copy (I send it myself)", onclick: () => send("copied") }),
      override,
      el("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => box.replaceChildren() })));
  text.focus();
}

function followupLine(f) {
  const x = f.deliveries;
  let state = "";
  if (f.via === "x_reply") {
    const failed = x.find((d) => d.status === "failed");
    state = failed ? ` — X: failed: ${failed.error}` : x.length && x.every((d) => d.status === "published") ? " — X: published" : " — X: sending…";
  }
  return el("p", { class: "followup", text: `↳ ${f.via === "x_reply" ? "X reply" : "copied"} by ${f.by} at ${timeOf(f.at)}: ${f.text}${state}` });
}

function build(c) {
  const notesId = `notes-${c.question_id}`;
  const parts = {
    meta: el("div", { class: "meta" }),
    text: el("p", { class: "text" }),
    sla: el("span", { class: "sla" }),
    status: select("Status", options.statuses.map((s) => [s, LABELS[s] || s]), c.status, (value) => change(cases.get(c.question_id), { status: value })),
    assignee: select("Assignee", [["", "unassigned"], ...team.map((u) => [u, u])], c.assignee || "",
      (value) => change(cases.get(c.question_id), { assignee: value || null })),
    notes: el("textarea", { id: notesId, rows: 2, placeholder: "For the team and customer service" }),
    followups: el("div"),
    resolution: el("p", { class: "resolution" }),
    editor: el("div", { class: "editor" }),
    actions: el("div", { class: "actions" }),
  };
  const saveNotes = el("button", { type: "button", class: "secondary", text: "Save notes",
    onclick: async () => { if (await change(cases.get(c.question_id), { notes: parts.notes.value })) say(`#${c.question_id} notes saved.`); } });
  parts.actions.append(
    el("button", { type: "button", text: "Write follow-up", onclick: () => openFollowup(cases.get(c.question_id), parts.editor) }),
    el("button", { type: "button", class: "secondary", text: "Move to stage", onclick: () => moveToStage(cases.get(c.question_id)) }));
  const li = el("li", { class: "q case", id: `case-${c.question_id}`, "data-id": String(c.question_id) },
    parts.meta, parts.text, el("div", { class: "controls" }, parts.sla, parts.status, parts.assignee),
    el("label", { htmlFor: notesId, text: "Notes" }), parts.notes, el("div", { class: "actions" }, saveNotes),
    parts.followups, parts.resolution, parts.editor, parts.actions);
  return { li, parts };
}

function update(card, c) {
  const { parts } = card;
  parts.meta.textContent = [asker(c), c.source, timeOf(c.received_at), c.lang, c.assignee ? `→ ${c.assignee}` : ""].filter(Boolean).join(" · ");
  parts.text.textContent = c.text;
  parts.status.querySelector("select").value = c.status;
  parts.assignee.querySelector("select").value = c.assignee || "";
  // Never overwrite what someone is typing.
  if (document.activeElement !== parts.notes) parts.notes.value = c.notes;
  parts.followups.replaceChildren(...c.followups.map(followupLine));
  parts.resolution.textContent = c.resolution;
  // Moved to the stage: closed, unless someone made it a complaint again (then any change
  // reopens it on the server).
  const closed = Boolean(c.moved_to_stage_at) && !c.on_desk;
  for (const control of [parts.status, parts.assignee]) control.querySelector("select").disabled = closed;
  parts.actions.hidden = closed;
  tick(card, c);
}

function tick(card, c) {
  const sla = slaText(c);
  card.parts.sla.textContent = `SLA: ${sla.text}`;
  card.parts.sla.classList.toggle("overdue", sla.overdue);
  card.li.classList.toggle("overdue", sla.overdue);
}

function store(c) {
  const known = cases.get(c.question_id);
  if (known && known.version > c.version && c.case_id !== null) return; // an older update, late
  cases.set(c.question_id, c);
  refreshTotals();
  render();
}

function render() {
  const sorted = [...cases.values()].sort((a, b) => dueOf(a) - dueOf(b) || a.question_id - b.question_id);
  const listed = { open: [], closed: [] };
  for (const c of sorted) listed[c.status === "resolved" ? "closed" : "open"].push(c);
  // The resolved: the last resolved first, which is what a desk looks back on.
  const resolvedAt = (c) => (c.resolved_at ? Date.parse(c.resolved_at) : 0);
  listed.closed.sort((a, b) => resolvedAt(b) - resolvedAt(a) || b.question_id - a.question_id);
  for (const [id, card] of cards) if (!cases.has(id)) { card.li.remove(); cards.delete(id); }
  for (const name of ["open", "closed"]) {
    const items = listed[name].slice(0, shown[name]).map((c) => {
      let card = cards.get(c.question_id);
      if (!card) { card = build(c); cards.set(c.question_id, card); }
      update(card, c);
      return card.li;
    });
    // Moving a node that holds the focus would lose it: only re-append when the order changed.
    const list = document.getElementById(`cases-${name}`);
    const same = items.length === list.children.length && items.every((li, i) => list.children[i] === li);
    if (!same) list.replaceChildren(...items);
    const more = listed[name].length - items.length;
    const button = document.getElementById(`more-${name}`);
    button.hidden = more === 0;
    button.textContent = `Show ${Math.min(more, PAGE)} more (${more} not shown)`;
  }
  // What the desk was not sent: every complaint counted, less those it lists.
  const hidden = capped
    ? { open: Math.max(0, totals.open - listed.open.length), closed: Math.max(0, totals.closed - listed.closed.length) }
    : { open: 0, closed: 0 };
  const overdue = listed.open.filter((c) => slaText(c).overdue).length;
  // Unlisted open cases are the newest: due last, so overdue only if every listed one is.
  const atLeast = hidden.open && overdue === listed.open.length ? "+" : "";
  document.getElementById("summary").replaceChildren(
    el("span", { class: "counter", text: `${listed.open.length + hidden.open} open` }),
    el("span", { class: `counter${overdue ? " error" : ""}`, text: `${overdue}${atLeast} overdue` }),
    el("span", { class: "counter", text: `${listed.closed.length + hidden.closed} resolved` }));
  const unlisted = [];
  if (hidden.open) unlisted.push(`${hidden.open} open complaints, due after the ones listed, are not listed yet: reload once these are handled`);
  if (hidden.closed) unlisted.push(`${hidden.closed} older resolved complaints are not listed`);
  document.getElementById("unlisted").textContent = unlisted.length ? `${unlisted.join("; ")}. The CSV export has every complaint.` : "";
}

for (const name of ["open", "closed"]) {
  document.getElementById(`more-${name}`).addEventListener("click", () => { shown[name] += PAGE; render(); });
}

// A question update: a complaint the desk has not seen yet arrives, open and unassigned, until
// its case is first handled (its "case" update then carries the rest).
function onQuestion(q) {
  const known = cases.get(q.id);
  if (q.category === "complaint" && !known && capped && Date.parse(q.created_at) < loadedAt) {
    refetch(q.id); // maybe one the desk was not sent: its case says where it belongs
  } else if (q.category === "complaint" && !known) {
    cases.set(q.id, {
      question_id: q.id, live_event_id: q.live_event_id, case_id: null, text: q.text,
      author_name: q.author_name, author_handle: q.author_handle, source: q.source, lang: q.lang,
      question_status: q.status, on_desk: true, received_at: q.created_at, status: "open", assignee: null, notes: "",
      due_at: null, overdue: false, first_response_at: null, resolved_at: null, moved_to_stage_at: null,
      resolution: "", can_reply: false, followups: [], version: 0,
    });
    arrivals.textContent = `New complaint from ${asker(q)}: ${q.text}`;
    refreshTotals();
    render();
  } else if (known) {
    if (q.category !== "complaint" && known.case_id === null) cases.delete(q.id); // re-categorised
    else cases.set(q.id, { ...known, text: q.text, question_status: q.status, on_desk: q.category === "complaint" });
    refreshTotals();
    render();
  }
}

document.getElementById("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    settings = await api(`/api/v1/events/${slug}/desk-settings`, { method: "PATCH", body: {
      sla_minutes: Number(form.elements.sla_minutes.value),
    } });
    say("Desk settings saved.");
    render();
  } catch (error) { say(error.message, "error"); }
});

function fillSettings() {
  const form = document.getElementById("settings");
  form.elements.sla_minutes.value = settings.sla_minutes;
}

connect({
  slug: liveEvent.slug,
  channel: "moderation",
  seq: initial.seq,
  onStatus: showStatus(document.getElementById("conn")),
  onUpdate(message) {
    if (message.type === "case") store(message.case);
    else if (message.type === "question") onQuestion(message.question);
    else if (message.type === "desk.settings") { settings = message.settings; fillSettings(); render(); }
  },
});

setInterval(() => { for (const [id, card] of cards) if (card.li.isConnected) tick(card, cases.get(id)); }, 1000);
fillSettings();
render();
const target = location.hash && document.getElementById(location.hash.slice(1));
if (target) target.scrollIntoView();
