// shopdesk agent console: no framework. Customer text is only ever inserted with textContent.
"use strict";

const TOKEN_KEY = "shopdesk.agentToken";
const OPEN_KEY = "shopdesk.openConversation";
const CANNED = {
  de: [
    ["Begrüßung", "Hallo, hier ist {agent} vom Kundenservice. Ich habe deinen Verlauf gelesen und kümmere mich jetzt darum."],
    ["Moment", "Einen Moment bitte, ich schaue das kurz für dich nach."],
    ["Bestellnummer", "Kannst du mir bitte deine Bestellnummer schicken?"],
    ["Erledigt", "Ich habe das für dich erledigt. Kann ich sonst noch etwas tun?"],
    ["Abschied", "Danke für deine Geduld! Ich gebe dich jetzt an unseren Assistenten zurück. Einen schönen Tag noch!"],
  ],
  en: [
    ["Greeting", "Hi, this is {agent} from customer service. I've read your conversation and I'm taking care of it now."],
    ["One moment", "One moment please, I'm checking this for you."],
    ["Order number", "Could you send me your order number, please?"],
    ["Done", "I've sorted this out for you. Is there anything else I can do?"],
    ["Goodbye", "Thanks for your patience! I'm handing you back to our assistant now. Have a nice day!"],
  ],
};

const $ = (id) => document.getElementById(id);
const state = { token: null, agent: null, queue: new Map(), mine: new Map(), open: null, ws: null, retry: 0, view: null, audio: null };

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function minutes(seconds) {
  if (seconds == null) return "–";
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (response.status === 401 && path !== "/api/handoff/queue") signOut("Your token is no longer valid.");
  return { status: response.status, data: data || {} };
}

// --- sign in -------------------------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  const { status, data } = await api("GET", "/api/handoff/queue");
  if (status !== 200) {
    state.token = null;
    $("sign-in-error").textContent = status === 401 ? "That token is not valid." : `The desk answered ${status}: ${data.detail || ""}`;
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  state.agent = data.agent;
  $("sign-in").hidden = true;
  $("desk").hidden = false;
  $("sign-out").hidden = false;
  applySnapshot(data);
  connect();
  const open = sessionStorage.getItem(OPEN_KEY);
  if (open) openConversation(open);
  return true;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(OPEN_KEY);
  state.token = null;
  if (state.ws) { state.ws.onclose = null; state.ws.close(); }
  $("desk").hidden = true;
  $("sign-in").hidden = false;
  $("sign-out").hidden = true;
  $("sign-in-error").textContent = message || "";
  setStatus("offline", "signed out");
}

function setStatus(kind, text) {
  $("status").dataset.state = kind;
  $("status").textContent = text;
}

// --- live events -----------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/agent/ws`);
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: state.token }));
  ws.onmessage = (message) => handleEvent(JSON.parse(message.data));
  ws.onclose = (event) => {
    if (event.code === 4401) { signOut("Your token is no longer valid."); return; }
    setStatus("reconnecting", "reconnecting…");
    const delay = Math.min(5000, 250 * 2 ** state.retry++);
    setTimeout(() => { if (state.token) connect(); }, delay);
  };
}

function handleEvent(event) {
  switch (event.type) {
    case "hello":
      state.retry = 0;
      setStatus("online", `signed in as ${event.agent}`);
      applySnapshot(event);
      if (state.open) openConversation(state.open); // catch up on whatever happened while away
      break;
    case "added":
      state.queue.set(event.entry.conversation_id, event.entry);
      renderQueue(event.entry.conversation_id);
      announce(event.entry);
      break;
    case "updated":
    case "released":
      state.queue.set(event.entry.conversation_id, event.entry);
      state.mine.delete(event.entry.conversation_id);
      renderQueue();
      renderMine();
      if (state.open === event.entry.conversation_id) openConversation(state.open);
      break;
    case "claimed":
      state.queue.delete(event.conversation_id);
      if (event.agent === state.agent) state.mine.set(event.conversation_id, { conversation_id: event.conversation_id });
      renderQueue();
      renderMine();
      break;
    case "removed":
    case "closed":
      state.queue.delete(event.conversation_id);
      state.mine.delete(event.conversation_id);
      renderQueue();
      renderMine();
      if (state.open === event.conversation_id) openConversation(state.open);
      break;
    case "message":
      if (state.open === event.conversation_id) {
        appendLine({ sender: event.sender, text: event.text, agent_id: event.agent, created_at: new Date(event.at * 1000).toISOString() });
      }
      if (event.sender === "customer" && state.mine.has(event.conversation_id) && state.open !== event.conversation_id) {
        const entry = state.mine.get(event.conversation_id);
        entry.unread = (entry.unread || 0) + 1;
        renderMine();
        beep();
      }
      break;
    default:
      break;
  }
}

function applySnapshot(data) {
  state.queue = new Map(data.queue.map((e) => [e.conversation_id, e]));
  state.mine = new Map(data.mine.map((e) => [e.conversation_id, e]));
  const hours = data.business_hours;
  $("hours").textContent = hours ? `Business hours: ${hours.spec} — ${hours.open ? "open" : "closed, next opening " + new Date(hours.next_open).toLocaleString()}` : "";
  renderQueue();
  renderMine();
}

function beep() {
  try {
    state.audio = state.audio || new (window.AudioContext || window.webkitAudioContext)();
    const osc = state.audio.createOscillator();
    const gain = state.audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.08;
    osc.connect(gain).connect(state.audio.destination);
    osc.start();
    osc.stop(state.audio.currentTime + 0.15);
  } catch (e) { /* no audio: the flashing row still shows it */ }
}

function announce(entry) {
  beep();
  if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
    new Notification("New customer waiting", { body: `${entry.reason} · ${entry.channel} · ${entry.summary || ""}`.slice(0, 140) });
  }
}

// --- queue -----------------------------------------------------------------------------------

function sortedQueue() {
  return [...state.queue.values()].sort((a, b) => (a.score ?? 0) - (b.score ?? 0));
}

function renderQueue(highlight) {
  const body = $("queue").querySelector("tbody");
  body.replaceChildren();
  const entries = sortedQueue();
  entries.forEach((entry, index) => {
    const row = el("tr", null, `prio-${entry.priority}` + (entry.conversation_id === highlight ? " new" : ""));
    row.dataset.conversation = entry.conversation_id;
    row.append(el("td", index + 1));
    const waiting = el("td", minutes(Date.now() / 1000 - entry.queued_at), "waiting");
    waiting.dataset.since = entry.queued_at;
    row.append(waiting);
    row.append(el("td", entry.channel));
    row.append(el("td", entry.language));
    const flags = [entry.out_of_hours ? "after hours" : "", entry.callback ? "callback" : "", entry.ticket || ""].filter(Boolean);
    row.append(el("td", entry.reason + (flags.length ? ` (${flags.join(", ")})` : "")));
    row.append(el("td", entry.priority));
    row.append(el("td", entry.summary));
    const cell = el("td");
    const claim = el("button", "Claim", "claim");
    claim.type = "button";
    claim.addEventListener("click", () => claimConversation(entry.conversation_id));
    cell.append(claim);
    row.append(cell);
    body.append(row);
  });
  $("queue-count").textContent = String(entries.length);
  $("queue-empty").hidden = entries.length > 0;
}

function renderMine() {
  const list = $("mine");
  list.replaceChildren();
  for (const entry of state.mine.values()) {
    const item = el("li", entry.conversation_id + (entry.unread ? ` (${entry.unread} new)` : ""));
    if (entry.conversation_id === state.open) item.className = "open";
    item.addEventListener("click", () => { entry.unread = 0; openConversation(entry.conversation_id); });
    list.append(item);
  }
}

setInterval(() => {
  for (const cell of document.querySelectorAll("td.waiting")) {
    cell.textContent = minutes(Date.now() / 1000 - Number(cell.dataset.since));
  }
  if (state.view && state.view.reply_window_seconds_left != null) renderWindow();
}, 1000);

async function claimConversation(id) {
  $("claim-error").textContent = "";
  const { status, data } = await api("POST", `/api/handoff/${encodeURIComponent(id)}/claim`);
  if (status === 200) {
    state.queue.delete(id);
    state.mine.set(id, data.conversation);
    renderQueue();
    renderMine();
    openConversation(id);
  } else if (status === 409 && data.owner) {
    $("claim-error").textContent = `Already taken: ${data.owner} has this conversation.`;
  } else {
    $("claim-error").textContent = data.detail || `Claim failed (${status}).`;
  }
}

// --- one conversation ------------------------------------------------------------------------

async function openConversation(id) {
  const { status, data } = await api("GET", `/api/conversations/${encodeURIComponent(id)}`);
  if (status !== 200) return;
  state.open = id;
  state.view = data;
  state.view.loadedAt = Date.now();
  sessionStorage.setItem(OPEN_KEY, id);
  $("conversation").hidden = false;
  $("conv-id").textContent = id;
  $("conv-state").textContent = data.state + (data.card.agent ? ` · ${data.card.agent}` : "");
  renderCard(data);
  const list = $("transcript");
  list.replaceChildren();
  data.transcript.forEach(appendLine);
  const mine = data.state === "agent" && data.card.agent === state.agent;
  for (const id of ["reply", "send", "release", "close", "note"]) $(id).disabled = !mine;
  renderCanned(data.card.language || "de");
  renderWindow();
  renderMine();
}

function renderCard(data) {
  const card = data.card;
  const rows = [
    ["Reason", card.reason], ["Priority", card.priority], ["Summary", card.summary],
    ["Customer asked", data.customer_asked], ["Order number", card.order_number],
    ["Complaint", card.complaint_reference], ["Fallbacks", card.fallback_count],
    ["Channel", card.channel], ["Language", card.language],
    ["Waiting", card.waiting_seconds != null ? minutes(card.waiting_seconds) : null],
    ["Ticket", card.ticket], ["Callback wanted", card.callback ? "yes" : null],
  ];
  fill($("card"), rows);
  const complaint = data.complaint;
  $("complaint").hidden = !complaint;
  if (complaint) {
    fill($("complaint-card"), [
      ["Reference", complaint.reference], ["Category", complaint.category], ["Order", complaint.order_number],
      ["Description", complaint.description], ["Status", complaint.status], ["Photo", complaint.media_url],
      ["Created", complaint.created_at],
    ]);
  }
}

function fill(dl, rows) {
  dl.replaceChildren();
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", label), el("dd", value));
  }
}

function appendLine(line) {
  const item = el("li", null, line.sender);
  const who = line.sender === "agent" ? `agent ${line.agent_id || ""}` : line.sender;
  const when = line.created_at ? new Date(line.created_at).toLocaleTimeString() : "";
  item.append(el("span", `${who} · ${when}`, "who"));
  item.append(document.createTextNode(line.text));
  $("transcript").append(item);
  $("transcript").scrollTop = $("transcript").scrollHeight;
}

function renderWindow() {
  const view = state.view;
  if (!view || view.reply_window_seconds_left == null) { $("window").textContent = ""; return; }
  const left = view.reply_window_seconds_left - (Date.now() - view.loadedAt) / 1000;
  $("window").textContent = left > 0
    ? `Reply window: ${Math.floor(left / 3600)}h ${Math.floor((left % 3600) / 60)}m left`
    : "Reply window closed: only a template message can be sent";
}

function renderCanned(language) {
  const box = $("canned");
  box.replaceChildren();
  for (const lang of [language, language === "de" ? "en" : "de"]) {
    for (const [title, text] of CANNED[lang]) {
      const button = el("button", `${lang.toUpperCase()}: ${title}`);
      button.type = "button";
      button.addEventListener("click", () => { $("reply").value = text.replace("{agent}", state.agent); $("reply").focus(); });
      box.append(button);
    }
  }
}

$("compose").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("reply").value.trim();
  if (!text || !state.open) return;
  $("send-error").textContent = "";
  const { status, data } = await api("POST", `/api/handoff/${encodeURIComponent(state.open)}/messages`, { text });
  if (status === 200) {
    $("reply").value = "";
  } else {
    $("send-error").textContent = data.detail || `Not sent (${status}).`;
  }
});

$("release").addEventListener("click", async () => {
  const { status, data } = await api("POST", `/api/handoff/${encodeURIComponent(state.open)}/release`);
  if (status !== 200) { $("send-error").textContent = data.detail || `Release failed (${status}).`; return; }
  state.mine.delete(state.open);
  openConversation(state.open);
});

$("close").addEventListener("click", async () => {
  const note = $("note").value.trim();
  const { status, data } = await api("POST", `/api/handoff/${encodeURIComponent(state.open)}/close`, { note });
  if (status !== 200) { $("send-error").textContent = data.detail || `Close failed (${status}).`; return; }
  $("note").value = "";
  state.mine.delete(state.open);
  openConversation(state.open);
});

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
  if (await signIn($("token").value.trim())) $("token").value = "";
});

$("sign-out").addEventListener("click", () => signOut());

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
