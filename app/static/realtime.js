// The one realtime client every screen uses: connect, resume from the page's seq, handle
// resync, and tell the page whether it is live, reconnecting or stale.

const STALE_FACTOR = 2.5; // no message for this many heartbeats: the page is stale

export function readJson(id) {
  return JSON.parse(document.getElementById(id).textContent);
}

export function connect({ slug, channel, seq, onUpdate, onStatus }) {
  let lastSeq = seq;
  let socket = null;
  let heartbeat = 10;
  let lastMessageAt = Date.now();
  let retry = 0;
  let closedByUs = false;

  const status = (state) => onStatus && onStatus(state);

  const staleTimer = setInterval(() => {
    if (socket && socket.readyState === WebSocket.OPEN &&
        Date.now() - lastMessageAt > heartbeat * STALE_FACTOR * 1000) {
      status("stale");
    }
  }, 1000);

  function handle(message) {
    switch (message.type) {
      case "hello":
        heartbeat = message.heartbeat || heartbeat;
        retry = 0;
        status("live");
        return;
      case "heartbeat":
      case "pong":
        status("live");
        return;
      case "resync":
        // Too far behind to replay: the page reloads a fresh snapshot and its seq.
        closedByUs = true;
        location.reload();
        return;
      default:
        if (message.seq <= lastSeq) return; // already applied: updates are idempotent anyway
        lastSeq = message.seq;
        onUpdate(message);
    }
  }

  function open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/events/${encodeURIComponent(slug)}/${channel}?after=${lastSeq}`);
    socket.onmessage = (event) => {
      lastMessageAt = Date.now();
      const data = JSON.parse(event.data);
      // Updates committed (or read) together come as one message: an array of them, in seq
      // order. Each keeps its own seq, so skipping and resuming work update by update.
      if (Array.isArray(data)) data.forEach(handle);
      else handle(data);
    };
    socket.onclose = () => {
      if (closedByUs) return;
      status("reconnecting");
      retry += 1;
      const delay = Math.min(1000 * 2 ** Math.min(retry - 1, 4), 15000) * (0.5 + Math.random() / 2);
      setTimeout(open, delay);
    };
  }

  open();
  return {
    get seq() { return lastSeq; },
    close() { closedByUs = true; clearInterval(staleTimer); socket && socket.close(); },
  };
}

export function showStatus(element) {
  const labels = { live: "● live", reconnecting: "reconnecting…", stale: "stale — no news from the server" };
  return (state) => {
    element.textContent = labels[state] || state;
    element.dataset.state = state;
  };
}

export async function api(path, { method = "GET", body } = {}) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: {
      // Every state-changing call carries the page's CSRF token (app/security.py).
      "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]')?.content || "",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (data.error && data.error.message) || `request failed (${response.status})`;
    // details: what a 4xx explains beyond its message (the charter's violations, for one).
    throw Object.assign(new Error(message), { status: response.status, details: (data.error && data.error.details) || {} });
  }
  return data;
}

// Text only ever enters the page through textContent: post text is untrusted.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.includes("-")) node.setAttribute(key, value); // data-*, aria-*
    else node[key] = value;
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

export function timeOf(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// Store a question unless a newer version is known. An API response can overtake the socket's
// update of the version before it (under load, on another worker); that late update must not
// undo on screen what the moderator just saw saved. Versions only grow, one per change.
export function keepNewest(questions, q) {
  const known = questions.get(q.id);
  if (!known || known.version <= q.version) questions.set(q.id, q);
}

export function asker(q) {
  if (q.author_handle) return `@${q.author_handle}`;
  return q.author_name || "Anonymous";
}
