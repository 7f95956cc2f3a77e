// shopdesk agent console: no framework. Customer text is only ever inserted with textContent;
// links in it are built with DOM APIs (http/https only), never from HTML.
//
// For the other console scripts (complaints.js, alerts.js) it dispatches on `document`:
//   shopdesk:signed-in            {token, agent, role, lang}   after the socket's first hello
//   shopdesk:conversation-opened  {conversation_id}            when the agent opens a conversation
//   shopdesk:lang                 {lang}                       when the agent switches language
// and keeps document.documentElement.lang at the UI language ("de" / "en").
"use strict";

const TOKEN_KEY = "shopdesk.agentToken";
const OPEN_KEY = "shopdesk.openConversation";
const LANG_KEY = "shopdesk.lang";
const VIEWING_EVERY_MS = 10000;

const T = {
  console: ["Agenten-Konsole", "agent console"], language: ["Sprache", "Language"], sign_out: ["Abmelden", "Sign out"], sign_in_title: ["Anmelden", "Sign in"],
  agent_token: ["Agenten-Token", "Agent token"], sign_in: ["Anmelden", "Sign in"], queue: ["Warteschlange", "Queue"], customer: ["Kunde", "Customer"], waiting: ["Wartet", "Waiting"],
  channel: ["Kanal", "Channel"], lang_short: ["Spr.", "Lang"], reason: ["Grund", "Reason"], prio: ["Prio", "Prio"], summary: ["Anliegen", "Summary"], action: ["Aktion", "Action"],
  queue_empty: ["Niemand wartet.", "Nobody is waiting."], mine: ["Meine Gespräche", "My conversations"], mine_empty: ["Noch keine.", "None yet."],
  pick: ["Wähle ein Gespräch aus der Warteschlange oder aus deinen.", "Pick a conversation from the queue or from yours."], reply_label: ["Nachricht an den Kunden", "Message to the customer"],
  send: ["Senden", "Send"], reply_hint: ["Enter sendet, Umschalt+Enter neue Zeile, / für Textbausteine", "Enter sends, Shift+Enter for a new line, / for canned replies"],
  transfer_to: ["Übergeben an", "Hand over to"], transfer_note: ["Notiz für die Kollegin / den Kollegen", "Note for your colleague"], transfer: ["Übergeben", "Hand over"],
  attach: ["Bild oder PDF senden", "Attach image or PDF"], attach_failed: ["Anhang nicht gesendet ({status}).", "Attachment not sent ({status})."],
  err_too_large: ["Die Datei ist zu groß.", "The file is too large."], err_type: ["Nur Bilder (JPEG, PNG, GIF, WebP) oder PDF.", "Only images (JPEG, PNG, GIF, WebP) or PDF."],
  resolution: ["Abschlussnotiz", "Resolution note"], close: ["Schließen", "Close"], complaint: ["Reklamation", "Complaint"], notes: ["Interne Notizen", "Internal notes"],
  notes_hint: ["Nur Mitarbeitende sehen diese Notizen, nie der Kunde.", "Only agents see these notes, never the customer."], note_label: ["Neue interne Notiz", "New internal note"],
  add_note: ["Notiz speichern", "Add note"], earlier: ["Frühere Gespräche", "Earlier conversations"], earlier_none: ["Keine gefunden.", "None found."], ratings: ["Bewertungen", "Ratings"],
  ratings_none: ["Noch keine Bewertungen.", "No ratings yet."], claim: ["Annehmen", "Claim"], signed_out: ["abgemeldet", "signed out"],
  signed_in: ["angemeldet als {agent}", "signed in as {agent}"], reconnecting: ["Verbindung wird wiederhergestellt …", "reconnecting…"],
  token_invalid: ["Dieses Token ist nicht gültig.", "That token is not valid."], token_expired: ["Dein Token ist nicht mehr gültig.", "Your token is no longer valid."],
  desk_answered: ["Der Desk antwortete {status}: {detail}", "The desk answered {status}: {detail}"], hours: ["Servicezeiten: {spec} – {state}", "Business hours: {spec} — {state}"],
  hours_open: ["geöffnet", "open"], hours_closed: ["geschlossen, wieder geöffnet {when}", "closed, next opening {when}"], customer_label: ["Kunde {label}", "Customer {label}"],
  after_hours: ["außerhalb der Servicezeit", "after hours"], callback: ["Rückruf", "callback"], taken: ["Schon vergeben: {owner} hat dieses Gespräch.", "Already taken: {owner} has this conversation."],
  claim_failed: ["Annehmen fehlgeschlagen ({status}).", "Claim failed ({status})."], not_sent: ["Nicht gesendet ({status}).", "Not sent ({status})."],
  close_failed: ["Schließen fehlgeschlagen ({status}).", "Close failed ({status})."], transfer_failed: ["Übergabe fehlgeschlagen ({status}).", "Hand-over failed ({status})."],
  note_failed: ["Notiz nicht gespeichert ({status}).", "Note not saved ({status})."], new_count: ["{n} neu", "{n} new"], to_queue: ["Warteschlange", "Queue"],
  online: ["online", "online"], offline: ["offline", "offline"], window_left: ["Antwortfenster: noch {h} h {m} min", "Reply window: {h}h {m}m left"],
  window_closed: ["Antwortfenster geschlossen: nur eine Vorlage kann gesendet werden", "Reply window closed: only a template message can be sent"], also_here: ["Ebenfalls hier: {names}", "Also here: {names}"],
  new_customer: ["Neuer Kunde wartet", "New customer waiting"], new_message: ["Neue Nachricht von {who}", "New message from {who}"], transferred_to_you: ["{from} hat dir {who} übergeben", "{from} handed {who} to you"],
  transferred: ["{from} hat das Gespräch an {to} übergeben", "{from} handed the conversation to {to}"], released: ["{from} hat das Gespräch in die Warteschlange zurückgegeben", "{from} put the conversation back in the queue"],
  typing: ["{who} schreibt …", "{who} is typing …"], no_replies: ["Kein Textbaustein passt.", "No canned reply matches."],
  who_customer: ["Kunde", "customer"], who_bot: ["Assistent", "assistant"], who_system: ["⚠ System", "⚠ system"], who_agent: ["{agent}", "{agent}"], stays: ["{n} Übergaben", "{n} hand-overs"], messages: ["{n} Nachrichten", "{n} messages"],
  state_bot: ["Assistent", "assistant"], state_queued: ["wartet", "waiting"], state_agent: ["bei Mitarbeiter", "with agent"],
  f_reason: ["Grund", "Reason"], f_priority: ["Priorität", "Priority"], f_summary: ["Zusammenfassung", "Summary"], f_asked: ["Kunde fragte", "Customer asked"],
  f_order: ["Bestellnummer", "Order number"], f_complaint: ["Reklamation", "Complaint"], f_fallbacks: ["Nicht verstanden", "Not understood"], f_channel: ["Kanal", "Channel"],
  f_language: ["Sprache", "Language"], f_waiting: ["Wartet seit", "Waiting"], f_ticket: ["Vorgang", "Ticket"], f_callback: ["Rückruf gewünscht", "Callback wanted"], yes: ["ja", "yes"],
  f_reference: ["Referenz", "Reference"], f_category: ["Kategorie", "Category"], f_description: ["Beschreibung", "Description"], f_status: ["Status", "Status"],
  f_photo: ["Foto", "Photo"], f_created: ["Erstellt", "Created"], f_position: ["Platz in der Warteschlange", "Queue place"],
  r_customer_request: ["Kundenwunsch", "customer request"], r_not_understood: ["nicht verstanden", "not understood"], r_complaint: ["Reklamation", "complaint"],
  r_billing_complaint: ["Rechnungsreklamation", "billing complaint"], r_repeat_complaint: ["wiederholte Reklamation", "repeated complaint"],
  r_order_not_found: ["Bestellung nicht gefunden", "order not found"],
  err_taken: ["Jemand anders hat dieses Gespräch.", "Someone else has this conversation."], err_not_owner: ["Du hast dieses Gespräch nicht (mehr).", "You do not hold this conversation (any more)."],
  err_limit: ["Du hast schon die Höchstzahl an Gesprächen.", "You already hold the most conversations allowed."], err_not_queued: ["Das Gespräch wartet nicht mehr.", "The conversation is no longer waiting."],
  err_reply_window_closed: ["Das Antwortfenster ist geschlossen.", "The reply window is closed."], err_delivery_failed: ["Die Nachricht konnte nicht zugestellt werden.", "The message could not be delivered."],
  err_redis_unavailable: ["Der Desk ist gerade nicht erreichbar, bitte gleich nochmal.", "The desk is not reachable right now, try again shortly."],
  err_database_unavailable: ["Die Datenbank antwortet gerade nicht, bitte gleich nochmal.", "The database is not answering right now, try again shortly."],
  err_target_full: ["Die Kollegin / der Kollege hat schon die Höchstzahl an Gesprächen.", "Your colleague already holds the most conversations allowed."],
  err_unknown_agent: ["Dieses Konto gibt es nicht.", "There is no such account."], err_bad_request: ["Die Eingabe wurde nicht angenommen.", "The input was not accepted."],
  err_unauthorized: ["Nicht angemeldet.", "Not signed in."], err_unreachable: ["Der Desk ist nicht erreichbar – bitte gleich nochmal.", "The desk cannot be reached – try again shortly."],
};

const $ = (id) => document.getElementById(id);
const state = {
  token: null, agent: null, role: null, lang: "en", tz: undefined, queue: new Map(), mine: new Map(), open: null,
  ws: null, retry: 0, view: null, audio: null, announcedSignIn: false, replies: [], slash: [], slashIndex: 0,
  viewers: [], typingTimer: null,
};

// --- language, dates --------------------------------------------------------------------------

function initialLanguage() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === "de" || saved === "en") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("de") ? "de" : "en";
}

function t(key, vars) {
  const text = T[key] ? T[key][state.lang === "de" ? 0 : 1] : key; // each text is [de, en]
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars && vars[name] != null ? String(vars[name]) : ""));
}

function locale() {
  const own = (navigator.languages || [navigator.language]).find((l) => l && l.toLowerCase().startsWith(state.lang));
  return own || (state.lang === "de" ? "de-DE" : "en-GB");
}

function when(value, withDate) {
  if (value == null || value === "") return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const options = withDate ? { dateStyle: "medium", timeStyle: "short" } : { hour: "2-digit", minute: "2-digit" };
  try {
    return new Intl.DateTimeFormat(locale(), { ...options, timeZone: state.tz }).format(date);
  } catch (e) {
    return new Intl.DateTimeFormat(locale(), options).format(date);
  }
}

function setLanguage(lang, announce) {
  state.lang = lang === "de" ? "de" : "en";
  document.documentElement.lang = state.lang;
  $("lang").value = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  document.title = `shopdesk · ${t("console")}`;
  if (state.token) {
    setStatus($("status").dataset.state, $("status").dataset.state === "online" ? t("signed_in", { agent: state.agent })
      : $("status").dataset.state === "reconnecting" ? t("reconnecting") : t("signed_out"));
    renderHours();
    renderQueue();
    renderMine();
    if (state.view) renderView();
  } else {
    setStatus("offline", t("signed_out"));
  }
  if (announce) {
    localStorage.setItem(LANG_KEY, state.lang);
    document.dispatchEvent(new CustomEvent("shopdesk:lang", { detail: { lang: state.lang } }));
  }
}

// --- small DOM helpers ------------------------------------------------------------------------

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;

// Text with its http(s) links as <a> elements: text nodes and DOM-built anchors only.
function linkified(text) {
  const fragment = document.createDocumentFragment();
  const value = String(text ?? "");
  let last = 0;
  for (const match of value.matchAll(URL_PATTERN)) {
    let raw = match[0];
    while (/[.,;:!?)\]}]$/.test(raw)) raw = raw.slice(0, -1);
    let url = null;
    try { url = new URL(raw); } catch (e) { url = null; }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    fragment.append(document.createTextNode(value.slice(last, match.index)));
    const link = el("a", raw);
    link.href = url.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    fragment.append(link);
    last = match.index + raw.length;
  }
  fragment.append(document.createTextNode(value.slice(last)));
  return fragment;
}

function minutes(seconds) {
  if (seconds == null) return "–";
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

function label(entry) {
  return t("customer_label", { label: entry.customer_label || "…" });
}

function reasonText(reason) {
  return reason ? t(`r_${reason}`) : "";
}

function errorText(data, fallbackKey, status) {
  if (data && data.error && T[`err_${data.error}`]) return t(`err_${data.error}`);
  return t(fallbackKey, { status });
}

function announceText(text) {
  const box = $("announcer");
  box.textContent = "";
  setTimeout(() => { box.textContent = text; }, 50);
}

// The desk's JSON API with an agent's token; also used by complaints.js (loaded after this script).
// Answers {status, data}: status 0 when the desk is not reachable (network, restart), data null when the
// answer is not JSON.
async function deskFetch(token, method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    return { status: 0, data: null };
  }
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  return { status: response.status, data };
}

async function api(method, path, body) {
  const { status, data } = await deskFetch(state.token, method, path, body);
  if (status === 0) return { status, data: { error: "unreachable" } };
  if (status === 401 && path !== "/api/handoff/queue") signOut(t("token_expired"));
  return { status, data: data || {} };
}

// --- sign in -------------------------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  const { status, data } = await api("GET", "/api/handoff/queue");
  if (status !== 200) {
    state.token = null;
    $("sign-in-error").textContent = status === 401 ? t("token_invalid") : t("desk_answered", { status, detail: data.detail || "" });
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  state.agent = data.agent;
  state.role = data.role;
  state.announcedSignIn = false;
  $("sign-in").hidden = true;
  $("desk").hidden = false;
  $("sign-out").hidden = false;
  applySnapshot(data);
  connect();
  const open = sessionStorage.getItem(OPEN_KEY);
  if (open) openConversation(open, true);
  return true;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(OPEN_KEY);
  state.token = null;
  state.open = null;
  state.view = null;
  if (state.ws) { state.ws.onclose = null; state.ws.close(); }
  $("desk").hidden = true;
  $("sign-in").hidden = false;
  $("sign-out").hidden = true;
  $("sign-in-error").textContent = message || "";
  setStatus("offline", t("signed_out"));
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
    if (event.code === 4401) { signOut(t("token_expired")); return; }
    setStatus("reconnecting", t("reconnecting"));
    const delay = Math.min(5000, 250 * 2 ** state.retry++);
    setTimeout(() => { if (state.token) connect(); }, delay);
  };
}

function socketSend(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
}

function tellViewing() {
  socketSend({ type: "viewing", conversation_id: state.open });
}

function handleEvent(event) {
  switch (event.type) {
    case "hello":
      state.retry = 0;
      state.role = event.role;
      setStatus("online", t("signed_in", { agent: event.agent }));
      applySnapshot(event);
      if (!state.announcedSignIn) {
        state.announcedSignIn = true;
        document.dispatchEvent(new CustomEvent("shopdesk:signed-in", {
          detail: { token: state.token, agent: state.agent, role: state.role, lang: state.lang },
        }));
      }
      if (state.open) openConversation(state.open, true); // catch up on whatever happened while away
      break;
    case "added":
      state.queue.set(event.entry.conversation_id, event.entry);
      renderQueue(event.entry.conversation_id);
      notifyNew(event.entry);
      break;
    case "updated":
    case "released":
      state.queue.set(event.entry.conversation_id, event.entry);
      state.mine.delete(event.entry.conversation_id);
      renderQueue();
      renderMine();
      if (state.open === event.entry.conversation_id) openConversation(state.open, true);
      break;
    case "claimed": {
      const before = state.queue.get(event.conversation_id);
      state.queue.delete(event.conversation_id);
      if (event.agent === state.agent && !state.mine.has(event.conversation_id)) {
        state.mine.set(event.conversation_id, before || { conversation_id: event.conversation_id });
      }
      renderQueue();
      renderMine();
      break;
    }
    case "transferred":
      onTransferred(event);
      break;
    case "removed":
    case "closed":
      state.queue.delete(event.conversation_id);
      state.mine.delete(event.conversation_id);
      renderQueue();
      renderMine();
      if (state.open === event.conversation_id) openConversation(state.open, true);
      break;
    case "message":
      onMessage(event);
      break;
    case "note":
      if (state.open === event.conversation_id && state.view) {
        if (!state.view.notes.some((n) => n.id === event.note.id)) state.view.notes.push(event.note);
        renderNotes();
      }
      break;
    case "viewers":
      if (state.open === event.conversation_id) { state.viewers = event.agents; renderViewers(); }
      break;
    case "typing":
      if (state.open === event.conversation_id) showCustomerTyping();
      break;
    default:
      break;
  }
}

function onMessage(event) {
  if (state.open === event.conversation_id) {
    hideCustomerTyping();
    appendLine({ sender: event.sender, text: event.text, agent_id: event.agent, created_at: event.at, media: event.media });
    // A send that finally failed: the system line says so and why, marked like an alarm.
    if (event.not_delivered) $("transcript").lastElementChild.classList.add("not-delivered");
  }
  if (event.sender === "customer" && state.mine.has(event.conversation_id) && state.open !== event.conversation_id) {
    const entry = state.mine.get(event.conversation_id);
    entry.unread = (entry.unread || 0) + 1;
    renderMine();
    beep();
    announceText(t("new_message", { who: label(entry) }));
  }
}

function onTransferred(event) {
  const cid = event.conversation_id;
  const who = label(event);
  if (event.to === state.agent) {
    state.mine.set(cid, { conversation_id: cid, customer_label: event.customer_label, unread: 1 });
    beep();
    announceText(t("transferred_to_you", { from: event.from, who }));
  } else if (event.from === state.agent) {
    state.mine.delete(cid);
  }
  renderMine();
  if (state.open === cid) {
    openConversation(cid, true);
    if (event.to !== state.agent) announceText(event.to ? t("transferred", { from: event.from, to: event.to }) : t("released", { from: event.from }));
  }
}

function applySnapshot(data) {
  state.queue = new Map(data.queue.map((e) => [e.conversation_id, e]));
  const unread = new Map([...state.mine.values()].map((e) => [e.conversation_id, e.unread || 0]));
  state.mine = new Map(data.mine.map((e) => [e.conversation_id, { ...e, unread: unread.get(e.conversation_id) || 0 }]));
  state.tz = data.time_zone || state.tz;
  state.hours = data.business_hours;
  renderHours();
  renderQueue();
  renderMine();
}

function renderHours() {
  const hours = state.hours;
  $("hours").textContent = hours ? t("hours", {
    spec: hours.spec, state: hours.open ? t("hours_open") : t("hours_closed", { when: when(hours.next_open, true) }),
  }) : "";
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
  } catch (e) { /* no audio: the flashing row and the live region still show it */ }
}

function notifyNew(entry) {
  beep();
  announceText(`${t("new_customer")}: ${label(entry)}, ${reasonText(entry.reason)}`);
  if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
    new Notification(t("new_customer"), { body: `${reasonText(entry.reason)} · ${entry.channel} · ${entry.summary || ""}`.slice(0, 140) });
  }
}

// --- queue and my conversations ---------------------------------------------------------------

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
    const who = el("td");
    const peek = el("button", label(entry), "peek");
    peek.type = "button";
    peek.addEventListener("click", () => openConversation(entry.conversation_id));
    who.append(peek, el("span", `${entry.channel} · ${entry.language}`, "muted small-line"));
    row.append(who);
    const waiting = el("td", minutes(Date.now() / 1000 - entry.queued_at), "waiting");
    waiting.dataset.since = entry.queued_at;
    row.append(waiting);
    const flags = [entry.out_of_hours ? t("after_hours") : "", entry.callback ? t("callback") : "", entry.ticket || ""].filter(Boolean);
    row.append(el("td", reasonText(entry.reason) + (flags.length ? ` (${flags.join(", ")})` : "")));
    row.append(el("td", entry.priority));
    row.append(el("td", entry.summary));
    const cell = el("td");
    const claim = el("button", t("claim"), "claim");
    claim.type = "button";
    claim.setAttribute("aria-label", `${t("claim")}: ${label(entry)}`);
    claim.addEventListener("click", () => claimConversation(entry.conversation_id));
    cell.append(claim);
    row.append(cell);
    body.append(row);
  });
  if (!entries.length) $("queue").parentElement.scrollLeft = 0;
  $("queue-count").textContent = String(entries.length);
  $("queue-empty").hidden = entries.length > 0;
}

function renderMine() {
  const list = $("mine");
  list.replaceChildren();
  for (const entry of state.mine.values()) {
    const item = el("li");
    const button = el("button", label(entry));
    button.type = "button";
    button.dataset.conversation = entry.conversation_id;
    if (entry.reason) button.append(el("span", ` · ${reasonText(entry.reason)}`, "muted"));
    if (entry.unread) button.append(el("span", t("new_count", { n: entry.unread }), "unread"));
    if (entry.conversation_id === state.open) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => { entry.unread = 0; openConversation(entry.conversation_id); });
    item.append(button);
    list.append(item);
  }
  $("mine-empty").hidden = state.mine.size > 0;
}

setInterval(() => {
  for (const cell of document.querySelectorAll("td.waiting")) {
    cell.textContent = minutes(Date.now() / 1000 - Number(cell.dataset.since));
  }
  if (state.view && state.view.reply_window_seconds_left != null) renderWindow();
}, 1000);

setInterval(() => { if (state.open) tellViewing(); }, VIEWING_EVERY_MS);

async function claimConversation(id) {
  $("claim-error").textContent = "";
  const { status, data } = await api("POST", `/api/handoff/${encodeURIComponent(id)}/claim`);
  if (status === 200) {
    state.queue.delete(id);
    state.mine.set(id, data.conversation);
    renderQueue();
    renderMine();
    await openConversation(id);
    $("reply").focus();
  } else if (status === 409 && data.owner) {
    $("claim-error").textContent = t("taken", { owner: data.owner });
  } else {
    $("claim-error").textContent = errorText(data, "claim_failed", status);
  }
}

// --- one conversation ------------------------------------------------------------------------

async function openConversation(id, refresh) {
  const { status, data } = await api("GET", `/api/conversations/${encodeURIComponent(id)}`);
  if (status === 403 && refresh && state.open === id && state.view) {
    // No longer ours to read (handed to a colleague): keep what was shown, read-only, with its new state.
    state.view = { ...state.view, state: data.state || state.view.state, card: { ...state.view.card, agent: data.owner || null } };
    renderView();
    return;
  }
  if (status !== 200) return;
  const changed = state.open !== id;
  state.open = id;
  state.view = data;
  state.view.loadedAt = Date.now();
  state.viewers = data.viewers || [];
  sessionStorage.setItem(OPEN_KEY, id);
  renderView();
  if (changed || !refresh) {
    tellViewing();
    document.dispatchEvent(new CustomEvent("shopdesk:conversation-opened", { detail: { conversation_id: id } }));
  }
}

function isMine() {
  const data = state.view;
  return Boolean(data && data.state === "agent" && data.card.agent === state.agent);
}

function renderView() {
  const data = state.view;
  $("no-conversation").hidden = true;
  $("conv-body").hidden = false;
  $("conv-id").textContent = t("customer_label", { label: data.customer_label });
  $("conv-state").textContent = t(`state_${data.state}`) + (data.card.agent ? ` · ${data.card.agent}` : "");
  $("customer-title").textContent = t("customer_label", { label: data.customer_label });
  renderCard(data);
  const list = $("transcript");
  list.replaceChildren();
  data.transcript.forEach((line) => appendLine(line, true));
  list.scrollTop = list.scrollHeight;
  const mine = isMine();
  for (const id of ["reply", "send", "attach", "close", "note", "transfer", "transfer-to", "transfer-note"]) $(id).disabled = !mine;
  if (mine) loadAgents();
  renderWindow();
  renderMine();
  renderNotes();
  renderViewers();
  renderCustomer(data.customer);
}

function renderCard(data) {
  const card = data.card;
  fill($("card"), [
    ["f_reason", reasonText(card.reason)], ["f_priority", card.priority], ["f_summary", card.summary],
    ["f_asked", data.customer_asked], ["f_order", card.order_number], ["f_complaint", card.complaint_reference],
    ["f_fallbacks", card.fallback_count || null], ["f_channel", card.channel], ["f_language", card.language],
    ["f_waiting", card.waiting_seconds != null && data.state === "queued" ? minutes(card.waiting_seconds) : null],
    ["f_position", card.position], ["f_ticket", card.ticket], ["f_callback", card.callback ? t("yes") : null],
  ]);
  const complaint = data.complaint;
  $("complaint").hidden = !complaint;
  if (complaint) {
    fill($("complaint-card"), [
      ["f_reference", complaint.reference], ["f_category", complaint.category], ["f_order", complaint.order_number],
      ["f_description", complaint.description], ["f_status", complaint.status], ["f_photo", complaint.media_url],
      ["f_created", when(complaint.created_at, true)],
    ]);
  }
}

function fill(dl, rows) {
  dl.replaceChildren();
  for (const [key, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    const dd = el("dd");
    dd.append(linkified(value));
    dl.append(el("dt", t(key)), dd);
  }
}

function whoText(line) {
  if (line.sender === "agent") return t("who_agent", { agent: line.agent_id || "" });
  if (line.sender === "system") return t("who_system");
  return t(line.sender === "customer" ? "who_customer" : "who_bot");
}

function appendLine(line, quiet) {
  const list = $("transcript");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const item = el("div", null, `line ${line.sender}`);
  item.append(el("span", `${whoText(line)} · ${when(line.created_at)}`, "who"));
  item.append(linkified(line.text));
  const media = [...(line.media || [])];
  for (const match of String(line.text || "").matchAll(/^\[(image\/[\w.+-]+)\] (https?:\/\/\S+)$/gm)) {
    media.push({ content_type: match[1], url: match[2], shownAsText: true });
  }
  for (const item_ of media) appendMedia(item, item_);
  list.append(item);
  if (!quiet && (nearBottom || line.sender === "agent")) list.scrollTop = list.scrollHeight;
}

// A picture the gateway stored (http/https only): shown inline; anything else as a link.
function appendMedia(item, media) {
  if (!media || typeof media.url !== "string") return;
  let url = null;
  try { url = new URL(media.url, location.href); } catch (e) { return; }
  if (url.protocol !== "http:" && url.protocol !== "https:") return;
  if (/^image\//.test(String(media.content_type || ""))) {
    const img = el("img");
    img.src = url.href;
    img.alt = media.name || media.content_type;
    item.append(img);
  } else if (!media.shownAsText) {
    const link = el("a", media.name || media.content_type || url.href);
    link.href = url.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    item.append(document.createTextNode(" "), link);
  }
}

function renderWindow() {
  const view = state.view;
  if (!view || view.reply_window_seconds_left == null) { $("window").textContent = ""; return; }
  const left = view.reply_window_seconds_left - (Date.now() - view.loadedAt) / 1000;
  $("window").textContent = left > 0
    ? t("window_left", { h: Math.floor(left / 3600), m: Math.floor((left % 3600) / 60) })
    : t("window_closed");
}

function renderViewers() {
  const others = (state.viewers || []).filter((name) => name !== state.agent);
  $("viewers").textContent = others.length ? t("also_here", { names: others.join(", ") }) : "";
}

function showCustomerTyping() {
  $("customer-typing").textContent = t("typing", { who: t("customer_label", { label: state.view ? state.view.customer_label : "" }) });
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(hideCustomerTyping, 6000);
}

function hideCustomerTyping() {
  clearTimeout(state.typingTimer);
  $("customer-typing").textContent = "";
}

function renderNotes() {
  const list = $("notes");
  list.replaceChildren();
  for (const note of (state.view && state.view.notes) || []) {
    const item = el("li");
    item.append(el("span", `${note.agent} · ${when(note.created_at, true)}`, "who"));
    item.append(linkified(note.text));
    list.append(item);
  }
}

function renderCustomer(customer) {
  const history = $("history");
  history.replaceChildren();
  const conversations = (customer && customer.conversations) || [];
  for (const conv of conversations) {
    const button = el("button", `${label(conv)} · ${conv.channel} · ${when(conv.last_at, true)}`);
    button.type = "button";
    button.append(el("span", ` · ${t("messages", { n: conv.messages })}`, "muted"));
    button.addEventListener("click", () => openConversation(conv.conversation_id));
    const item = el("li");
    item.append(button);
    history.append(item);
  }
  $("history-empty").hidden = conversations.length > 0;
  const ratings = $("ratings");
  ratings.replaceChildren();
  const rows = (customer && customer.ratings) || [];
  for (const rating of rows) {
    const item = el("li");
    item.append(el("span", `${rating.agent || ""} · ${when(rating.created_at, true)}`, "who"));
    const stars = el("span", rating.rating ? "★".repeat(rating.rating) + "☆".repeat(5 - rating.rating) : "–", "stars");
    stars.setAttribute("aria-label", rating.rating ? `${rating.rating}/5` : "–");
    item.append(stars);
    if (rating.comment) item.append(document.createTextNode(" " + rating.comment));
    ratings.append(item);
  }
  $("ratings-empty").hidden = rows.length > 0;
}

async function loadAgents() {
  const { status, data } = await api("GET", "/api/handoff/agents");
  if (status !== 200) return;
  const select = $("transfer-to");
  const chosen = select.value;
  select.replaceChildren();
  const queue = el("option", t("to_queue"));
  queue.value = "";
  select.append(queue);
  for (const account of data.agents) {
    if (account.name === state.agent) continue;
    const option = el("option", `${account.name} (${account.online ? t("online") : t("offline")}, ${account.conversations})`);
    option.value = account.name;
    select.append(option);
  }
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

// --- canned replies: "/" in the composer -----------------------------------------------------

async function loadReplies() {
  const { status, data } = await api("GET", "/api/handoff/replies");
  if (status === 200) state.replies = data.replies || [];
}

function replyLanguage() {
  const lang = state.view && state.view.card.language;
  return lang === "en" || lang === "de" ? lang : state.lang;
}

function slashQuery() {
  const match = /^\/(\S*)$/.exec($("reply").value);
  return match ? match[1].toLowerCase() : null;
}

async function updateSlash(reload) {
  if (slashQuery() === null) { closeSlash(); return; }
  if (reload) await loadReplies();
  const query = slashQuery(); // after the load: more may have been typed meanwhile
  if (query === null) { closeSlash(); return; }
  const lang = replyLanguage();
  state.slash = state.replies.filter((r) => [r.key, r.title[lang], r.title[state.lang], r.text[lang]]
    .some((s) => String(s || "").toLowerCase().includes(query)));
  state.slashIndex = Math.min(state.slashIndex, Math.max(0, state.slash.length - 1));
  const list = $("slash");
  list.replaceChildren();
  if (!state.slash.length) {
    const none = el("li", t("no_replies"));
    none.setAttribute("role", "option");
    none.setAttribute("aria-disabled", "true");
    none.setAttribute("aria-selected", "false");
    none.id = "slash-none";
    list.append(none);
  }
  state.slash.forEach((reply, index) => {
    const item = el("li");
    item.id = `slash-${index}`;
    item.setAttribute("role", "option");
    item.setAttribute("aria-selected", index === state.slashIndex ? "true" : "false");
    item.append(el("span", `/${reply.key}`, "key"), " ", el("span", reply.title[lang]), " ", el("span", reply.text[lang], "preview"));
    item.addEventListener("mousedown", (event) => { event.preventDefault(); pickReply(index); });
    list.append(item);
  });
  list.hidden = false;
  $("reply").setAttribute("aria-activedescendant", state.slash.length ? `slash-${state.slashIndex}` : "slash-none");
  const current = $(`slash-${state.slashIndex}`);
  if (current) current.scrollIntoView({ block: "nearest" });
}

function closeSlash() {
  $("slash").hidden = true;
  $("slash").replaceChildren();
  $("reply").removeAttribute("aria-activedescendant");
  state.slash = [];
  state.slashIndex = 0;
}

function pickReply(index) {
  const reply = state.slash[index];
  if (!reply) return;
  $("reply").value = reply.text[replyLanguage()].replaceAll("{agent}", state.agent);
  closeSlash();
  $("reply").focus();
}

$("reply").addEventListener("input", () => {
  const now = Date.now();
  if (isMine() && $("reply").value.trim() && !$("reply").value.startsWith("/") && now - (state.typingSentAt || 0) > 2500) {
    state.typingSentAt = now;
    socketSend({ type: "typing", conversation_id: state.open });
  }
  state.slashIndex = 0;
  updateSlash($("reply").value === "/");
});

$("reply").addEventListener("keydown", (event) => {
  if (!$("slash").hidden) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      state.slashIndex = (state.slashIndex + step + state.slash.length) % Math.max(1, state.slash.length);
      updateSlash(false);
      return;
    }
    if (event.key === "Enter" || event.key === "Tab") {
      if (state.slash.length) { event.preventDefault(); pickReply(state.slashIndex); return; }
    }
    if (event.key === "Escape") { event.preventDefault(); closeSlash(); return; }
  }
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("compose").requestSubmit();
  }
});

$("reply").addEventListener("blur", () => setTimeout(closeSlash, 150));

// --- actions -----------------------------------------------------------------------------------

$("compose").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("reply").value.trim();
  if (!text || !state.open || slashQuery() !== null && !$("slash").hidden) return;
  $("send-error").textContent = "";
  const { status, data } = await api("POST", `/api/handoff/${encodeURIComponent(state.open)}/messages`, { text });
  if (status === 200) {
    $("reply").value = "";
  } else {
    $("send-error").textContent = errorText(data, "not_sent", status);
  }
});

$("attach").addEventListener("click", () => $("attach-file").click());

$("attach-file").addEventListener("change", async () => {
  const file = $("attach-file").files && $("attach-file").files[0];
  $("attach-file").value = "";
  if (!file || !state.open) return;
  $("send-error").textContent = "";
  const body = new FormData();
  body.append("text", $("reply").value.trim());
  body.append("file", file, file.name);
  let status = 0;
  let data = {};
  try {
    const response = await fetch(`/api/handoff/${encodeURIComponent(state.open)}/attachments`, {
      method: "POST", headers: { Authorization: `Bearer ${state.token}` }, body,
    });
    status = response.status;
    data = await response.json().catch(() => ({}));
  } catch (e) {
    data = { error: "unreachable" };
  }
  if (status === 200) { $("reply").value = ""; return; }
  $("send-error").textContent = errorText(data, "attach_failed", status);
});

$("transfer").addEventListener("click", async () => {
  const to = $("transfer-to").value || null;
  const note = $("transfer-note").value.trim();
  $("send-error").textContent = "";
  const { status, data } = await api("POST", `/api/handoff/${encodeURIComponent(state.open)}/transfer`, { to, note });
  if (status !== 200) { $("send-error").textContent = errorText(data, "transfer_failed", status); return; }
  $("transfer-note").value = "";
  state.mine.delete(state.open);
  openConversation(state.open, true);
});

$("close").addEventListener("click", async () => {
  const note = $("note").value.trim();
  const { status, data } = await api("POST", `/api/handoff/${encodeURIComponent(state.open)}/close`, { note });
  if (status !== 200) { $("send-error").textContent = errorText(data, "close_failed", status); return; }
  $("note").value = "";
  state.mine.delete(state.open);
  openConversation(state.open, true);
});

$("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("note-text").value.trim();
  if (!text || !state.open) return;
  $("note-error").textContent = "";
  const { status, data } = await api("POST", `/api/conversations/${encodeURIComponent(state.open)}/notes`, { text });
  if (status !== 200) { $("note-error").textContent = errorText(data, "note_failed", status); return; }
  $("note-text").value = "";
  if (state.view && !state.view.notes.some((n) => n.id === data.note.id)) state.view.notes.push(data.note);
  renderNotes();
});

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
  if (await signIn($("token").value.trim())) $("token").value = "";
});

$("sign-out").addEventListener("click", () => { socketSend({ type: "viewing", conversation_id: null }); signOut(); });
$("lang").addEventListener("change", () => setLanguage($("lang").value, true));

setLanguage(initialLanguage(), false);
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
