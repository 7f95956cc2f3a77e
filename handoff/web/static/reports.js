// The /reports page: figures and charts of GET /api/reports/summary for a supervisor.
// The token is asked for like the console does (and shared with it through sessionStorage);
// every customer text is rendered with textContent, never as HTML.
"use strict";

const TOKEN_KEY = "shopdesk.agentToken";
const LANG_KEY = "shopdesk.reportsLang";
const COLORS = ["#1d4ed8", "#16a34a", "#dd6b20", "#c53030", "#7c3aed", "#0891b2", "#ca8a04", "#db2777", "#4b5563"];

const TEXTS = {
  title: ["Berichte", "reports"], language: ["Sprache", "Language"], sign_out: ["Abmelden", "Sign out"], token: ["Supervisor-Token", "Supervisor token"], sign_in: ["Anmelden", "Sign in"],
  from: ["Von", "From"], to: ["Bis", "To"], show: ["Anzeigen", "Show"], last7: ["Letzte 7 Tage", "Last 7 days"], last30: ["Letzte 30 Tage", "Last 30 days"],
  csv_feedback: ["Bewertungen (CSV)", "Ratings (CSV)"], csv_complaints: ["Reklamationen (CSV)", "Complaints (CSV)"],
  csat_trend: ["Zufriedenheit pro Woche", "Satisfaction by week"], distribution: ["Verteilung der Sterne", "Rating distribution"], containment: ["Bot und Team", "Bot and team"],
  reasons: ["Gründe für die Übergabe", "Handoff reasons"], times: ["Wartezeit und erste Antwort (Sekunden)", "Wait and first response (seconds)"], queue: ["Warteschlange", "Queue outcomes"],
  complaints_weeks: ["Reklamationen nach Kategorie und Woche", "Complaints by category and week"], agents: ["Mitarbeitende", "Agents"], agent: ["Mitarbeiter:in", "Agent"],
  ratings: ["Bewertungen", "Ratings"], average: ["Durchschnitt", "Average"], satisfied: ["Zufrieden", "Satisfied"], low: ["≤ 2 ★", "≤ 2 ★"],
  no_agent_ratings: ["Keine Bewertungen nach Gesprächen mit dem Team in diesem Zeitraum.", "No ratings after agent conversations in this period."],
  unknown: ["Was der Bot als Nächstes lernen sollte", "What the bot should learn next"], message: ["Nachricht (maskiert)", "Message (masked)"], count: ["Anzahl", "Count"], none: ["Keine in diesem Zeitraum.", "None in this period."],
  when: ["Wann", "When"], stars: ["Sterne", "Stars"], comment: ["Kommentar", "Comment"], conversation: ["Gespräch", "Conversation"], transcript: ["Verlauf", "Transcript"],
  f_conversations: ["Gespräche", "Conversations"], f_containment: ["Vom Bot gelöst", "Solved by the bot"], f_handoff: ["An das Team übergeben", "Handed to the team"],
  f_csat: ["Zufrieden (4–5 ★)", "Satisfied (4–5 ★)"], f_average: ["Ø Sterne", "Average stars"], f_response: ["Antwortquote Bewertung", "Rating response rate"],
  f_bot_csat: ["Zufrieden nur Bot", "Satisfied, bot only"], f_agent_csat: ["Zufrieden nach Team", "Satisfied after an agent"],
  f_wait: ["Wartezeit p50 / p90", "Wait p50 / p90"], f_first: ["Erste Antwort p50 / p90", "First response p50 / p90"], f_abandoned: ["Abgebrochene Wartezeiten", "Abandoned waits"],
  f_expired: ["Davon still verlassen (abgelaufen)", "Of them expired (customer silent)"],
  f_complaints: ["Reklamationen", "Complaints"], f_repeat: ["Kunden mit wiederholter Reklamation", "Customers with a repeat complaint"],
  bot_only: ["Nur Bot", "Bot only"], after_agent: ["Nach Team", "After an agent"], contained: ["Vom Bot gelöst", "Solved by the bot"], handed_off: ["Übergeben", "Handed off"],
  claimed: ["Angenommen", "Claimed"], abandoned: ["Abgebrochen", "Abandoned"], waiting: ["Sonst (wartend, offen)", "Other (waiting, open)"],
  wait: ["Wartezeit", "Wait"], first_response: ["Erste Antwort", "First response"], share: ["Zufrieden in %", "Satisfied %"],
  customer: ["Kunde {label}", "Customer {label}"], drill_low: ["Bewertungen mit höchstens 2 Sternen von {agent}", "Ratings of at most 2 stars for {agent}"], drill_all: ["Alle Bewertungen von {agent}", "All ratings for {agent}"],
  open: ["Öffnen", "Open"], bad_token: ["Dieser Token ist nicht gültig.", "That token is not valid."], not_supervisor: ["Dieser Token gehört keinem Supervisor.", "That token is not a supervisor's."],
  error: ["Der Server antwortete {status}: {detail}", "The server answered {status}: {detail}"], none_dash: ["–", "–"],
};

const state = { token: null, lang: "en", summary: null, charts: {}, drill: null };
const $ = (id) => document.getElementById(id);

function t(key, values = {}) {
  const text = TEXTS[key] ? TEXTS[key][state.lang === "de" ? 0 : 1] : key; // each text is [de, en]
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function num(value, digits = 0) {
  if (value === null || value === undefined) return t("none_dash");
  return Number(value).toLocaleString(state.lang, { maximumFractionDigits: digits });
}
function pct(value) { return value === null || value === undefined ? t("none_dash") : `${num(value * 100, 1)} %`; }
function seconds(value) { return value === null || value === undefined ? t("none_dash") : `${num(value)} s`; }

// -- language ----------------------------------------------------------------------------

function initialLanguage() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === "de" || saved === "en") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("de") ? "de" : "en";
}

function setLanguage(lang) {
  state.lang = lang;
  document.documentElement.lang = lang;
  $("lang").value = lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  document.title = `shopdesk · ${t("title")}`;
  if (state.summary) render(state.summary);
}

// -- the API -----------------------------------------------------------------------------

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
  if (response.status === 401) { signOut(t("bad_token")); throw new Error("unauthorized"); }
  if (response.status === 403) { signOut(t("not_supervisor")); throw new Error("forbidden"); }
  return response;
}

async function json(path) {
  const response = await api(path);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(t("error", { status: response.status, detail: data.detail || "" }));
  return data;
}

async function signIn(token) {
  state.token = token;
  const response = await fetch("/api/reports/alerts", { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) {
    state.token = null;
    $("sign-in-error").textContent = response.status === 403 ? t("not_supervisor") : t("bad_token");
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("sign-in").hidden = true;
  $("reports").hidden = false;
  $("sign-out").hidden = false;
  await load();
  return true;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  $("reports").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
}

function period() { return `from=${encodeURIComponent($("from").value)}&to=${encodeURIComponent($("to").value)}`; }

function localDate(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 10);
}

function setDays(days) {
  const today = new Date();
  $("to").value = localDate(today);
  $("from").value = localDate(new Date(today.getTime() - (days - 1) * 86400000));
}

async function load() {
  $("period-error").textContent = "";
  try {
    state.summary = await json(`/api/reports/summary?${period()}`);
  } catch (error) {
    $("period-error").textContent = error.message;
    return;
  }
  render(state.summary);
  $("drill").hidden = true;
  const wanted = new URLSearchParams(location.hash.slice(1)).get("conversation");
  if (wanted) openConversation(wanted);
}

async function download(kind) {
  const response = await api(`/api/reports/${kind}.csv?${period()}`);
  if (!response.ok) { $("period-error").textContent = t("error", { status: response.status, detail: "" }); return; }
  const url = URL.createObjectURL(await response.blob());
  const link = el("a");
  link.href = url;
  link.download = `${kind}-${$("from").value}-${$("to").value}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// -- rendering ---------------------------------------------------------------------------

function render(s) {
  renderFigures(s);
  renderCharts(s);
  renderAgents(s.csat.by_agent);
  renderUnknown(s.unknown_questions);
}

function renderFigures(s) {
  const c = s.conversations;
  const q = s.queue;
  const figures = [
    ["f_conversations", num(c.total)],
    ["f_containment", pct(s.containment_rate)],
    ["f_handoff", pct(c.total ? c.handed_off / c.total : null)],
    ["f_csat", pct(s.csat.satisfied_share)],
    ["f_average", num(s.csat.average, 2)],
    ["f_response", pct(s.csat.response_rate)],
    ["f_bot_csat", pct(s.csat.bot_only.satisfied_share)],
    ["f_agent_csat", pct(s.csat.after_agent.satisfied_share)],
    ["f_wait", `${seconds(q.wait_seconds_p50)} / ${seconds(q.wait_seconds_p90)}`],
    ["f_first", `${seconds(q.first_response_seconds_p50)} / ${seconds(q.first_response_seconds_p90)}`],
    ["f_abandoned", `${num(q.abandoned)} / ${num(q.handoffs)}`],
    ["f_expired", num(q.expired)],
    ["f_complaints", num(s.complaints.total)],
    ["f_repeat", num(s.complaints.repeat_customers)],
  ];
  const box = $("figures");
  box.replaceChildren();
  for (const [key, value] of figures) {
    const card = el("div", null, "figure");
    card.dataset.figure = key;
    card.append(el("span", value, "value"), el("span", t(key), "label"));
    box.append(card);
  }
}

function chart(id, config) {
  const canvas = $(id);
  const old = Chart.getChart(canvas);
  if (old) old.destroy();
  config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
  state.charts[id] = new Chart(canvas, config);
}

function renderCharts(s) {
  const weeks = s.weeks.map((w) => w.week);
  const share = (figures) => (figures.satisfied_share === null ? null : Math.round(figures.satisfied_share * 1000) / 10);
  chart("chart-csat", {
    type: "line",
    data: { labels: weeks, datasets: [
      { label: t("bot_only"), data: s.weeks.map((w) => share(w.bot_only)), borderColor: COLORS[0], backgroundColor: COLORS[0], spanGaps: true },
      { label: t("after_agent"), data: s.weeks.map((w) => share(w.after_agent)), borderColor: COLORS[1], backgroundColor: COLORS[1], spanGaps: true },
    ] },
    options: { scales: { y: { min: 0, max: 100, title: { display: true, text: t("share") } } } },
  });
  chart("chart-distribution", {
    type: "bar",
    data: { labels: ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"], datasets: [{
      label: t("ratings"), data: ["1", "2", "3", "4", "5"].map((k) => s.csat.distribution[k]),
      backgroundColor: ["#c53030", "#dd6b20", "#ca8a04", "#65a30d", "#16a34a"],
    }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  chart("chart-containment", {
    type: "doughnut",
    data: { labels: [t("contained"), t("handed_off")], datasets: [{
      data: [s.conversations.contained, s.conversations.handed_off], backgroundColor: [COLORS[1], COLORS[2]],
    }] },
  });
  const reasons = Object.entries(s.handoff_reasons);
  chart("chart-reasons", {
    type: "bar",
    data: { labels: reasons.map(([r]) => r), datasets: [{ label: t("count"), data: reasons.map(([, n]) => n), backgroundColor: COLORS[2] }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  const q = s.queue;
  chart("chart-times", {
    type: "bar",
    data: { labels: ["p50", "p90"], datasets: [
      { label: t("wait"), data: [q.wait_seconds_p50, q.wait_seconds_p90], backgroundColor: COLORS[0] },
      { label: t("first_response"), data: [q.first_response_seconds_p50, q.first_response_seconds_p90], backgroundColor: COLORS[4] },
    ] },
    options: { scales: { y: { beginAtZero: true } } },
  });
  chart("chart-queue", {
    type: "doughnut",
    data: { labels: [t("claimed"), t("abandoned"), t("waiting")], datasets: [{
      data: [q.claimed, q.abandoned, Math.max(0, q.handoffs - q.claimed - q.abandoned)],
      backgroundColor: [COLORS[1], COLORS[3], "#9ca3af"],
    }] },
  });
  const categories = Object.keys(s.complaints.by_category);
  chart("chart-complaints", {
    type: "bar",
    data: { labels: weeks, datasets: categories.map((category, i) => ({
      label: category, data: s.weeks.map((w) => w.complaints[category] || 0), backgroundColor: COLORS[i % COLORS.length],
    })) },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

function linkButton(text, onClick) {
  const button = el("button", text, "link");
  button.type = "button";
  button.addEventListener("click", onClick);
  return button;
}

function renderAgents(byAgent) {
  const body = $("agents").querySelector("tbody");
  body.replaceChildren();
  const names = Object.keys(byAgent);
  $("agents-empty").hidden = names.length > 0;
  for (const name of names) {
    const figures = byAgent[name];
    const row = el("tr");
    row.dataset.agent = name;
    const ratings = el("td", null, "num");
    ratings.append(linkButton(num(figures.ratings), () => drill(name, 1, 5, "drill_all")));
    const low = el("td", null, "num low");
    low.append(linkButton(num(figures.low_ratings), () => drill(name, 1, 2, "drill_low")));
    row.append(el("td", name), ratings, el("td", num(figures.average, 2), "num"), el("td", pct(figures.satisfied_share), "num"), low);
    body.append(row);
  }
}

function renderUnknown(list) {
  const body = $("unknown").querySelector("tbody");
  body.replaceChildren();
  $("unknown-empty").hidden = list.length > 0;
  for (const item of list) {
    const row = el("tr");
    row.append(el("td", item.text), el("td", num(item.count), "num"));
    body.append(row);
  }
}

async function drill(agent, min, max, title) {
  const params = `${period()}&agent=${encodeURIComponent(agent)}&min=${min}&max=${max}`;
  let data;
  try { data = await json(`/api/reports/ratings?${params}`); } catch (error) { $("period-error").textContent = error.message; return; }
  $("drill-title").textContent = t(title, { agent });
  const body = $("drill-list").querySelector("tbody");
  body.replaceChildren();
  for (const rating of data.ratings) {
    const row = el("tr");
    row.dataset.conversation = rating.conversation_id;
    const open = el("td");
    // The label, never the id: a web chat id is the customer's session credential.
    open.append(linkButton(t("customer", { label: rating.customer_label }), () => openConversation(rating.conversation_id, rating.customer_label)));
    row.append(el("td", new Date(rating.created_at).toLocaleString(state.lang)), el("td", "★".repeat(rating.rating)),
      el("td", rating.agent || t("bot_only")), el("td", rating.comment || ""), open);
    body.append(row);
  }
  $("drill").hidden = false;
  $("drill").scrollIntoView({ block: "nearest" });
}

async function openConversation(id, label) {
  let data;
  try { data = await json(`/api/conversations/${encodeURIComponent(id)}`); } catch (error) { $("period-error").textContent = error.message; return; }
  $("conv-id").textContent = t("customer", { label });
  const list = $("transcript");
  list.replaceChildren();
  for (const line of data.transcript) {
    const item = el("li", null, line.sender);
    const who = line.sender === "agent" && line.agent_id ? `${line.sender} · ${line.agent_id}` : line.sender;
    item.append(el("span", `${who} · ${new Date(line.created_at).toLocaleString(state.lang)}`, "who"), document.createTextNode(line.text));
    list.append(item);
  }
  $("conversation").hidden = false;
  $("conversation").scrollIntoView({ block: "nearest" });
}

// -- wiring ------------------------------------------------------------------------------

$("lang").addEventListener("change", () => { localStorage.setItem(LANG_KEY, $("lang").value); setLanguage($("lang").value); });
$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (await signIn($("token").value.trim())) $("token").value = "";
});
$("sign-out").addEventListener("click", () => signOut(""));
$("period").addEventListener("submit", (event) => { event.preventDefault(); load(); });
for (const button of document.querySelectorAll("[data-days]")) {
  button.addEventListener("click", () => { setDays(Number(button.dataset.days)); load(); });
}
$("csv-feedback").addEventListener("click", () => download("feedback"));
$("csv-complaints").addEventListener("click", () => download("complaints"));

setLanguage(initialLanguage());
setDays(30);
window.shopdeskReports = state;
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
