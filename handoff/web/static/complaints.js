// shopdesk agent console: the customer's complaints (#complaints-panel), their timeline, state and resolution.
// Works only through the console's events (shopdesk:signed-in, shopdesk:conversation-opened, shopdesk:lang) and its
// deskFetch; does nothing when the page has no #complaints-panel. Customer text is only ever inserted with textContent.
"use strict";

(() => {
  const TEXTS = {
    title: ["Reklamationen", "Complaints"], none: ["Keine Reklamationen von diesem Kunden.", "No complaints from this customer."], failed: ["Reklamationen konnten nicht geladen werden", "Could not load the complaints"],
    order: ["Bestellung", "Order"], category: ["Kategorie", "Category"], state: ["Status", "State"], resolution: ["Lösung für den Kunden", "Resolution for the customer"],
    save: ["Speichern", "Save"], saved: ["Gespeichert – der Kunde wurde informiert.", "Saved – the customer has been told."], savedQuiet: ["Gespeichert.", "Saved."],
    needsResolution: ["Für „erledigt“ oder „abgelehnt“ braucht es eine Lösung für den Kunden.", "Resolved or rejected needs a resolution for the customer."],
    timeline: ["Verlauf", "Timeline"], customer: ["Kunde", "Customer"], bot: ["Assistent", "Assistant"], photo: ["Foto", "Photo"],
    states: { open: ["offen", "open"], in_progress: ["in Bearbeitung", "in progress"], resolved: ["erledigt", "resolved"], rejected: ["abgelehnt", "rejected"] },
    kinds: { created: ["aufgenommen", "filed"], detail: ["Ergänzung", "detail"], photo: ["Foto", "photo"], status: ["Status", "state"], notice: ["Kunde informiert", "customer told"] },
  };
  const STATES = ["open", "in_progress", "resolved", "rejected"];
  const FINAL = ["resolved", "rejected"];
  const state = { token: null, conversation: null, complaints: [], message: "" };

  const lang = () => (document.documentElement.lang === "en" ? "en" : "de");
  // each text is [de, en]; states and kinds are tables of such pairs, looked up by their name
  const t = (key, name) => {
    const entry = name === undefined ? TEXTS[key] : TEXTS[key][name];
    return entry && entry[lang() === "de" ? 0 : 1];
  };
  const panel = () => document.getElementById("complaints-panel");

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  // the console's deskFetch; a failed or unreachable answer is shown as failed and tried on the next load
  async function api(method, path, body) {
    const { status, data } = await deskFetch(state.token, method, path, body);
    return { status, data: data || {} };
  }

  async function load() {
    if (!panel() || !state.token || !state.conversation) return;
    const { status, data } = await api("GET", `/api/complaints?conversation_id=${encodeURIComponent(state.conversation)}`);
    state.complaints = status === 200 ? data.complaints || [] : [];
    state.message = status === 200 ? "" : `${t("failed")} (${status})`;
    render();
  }

  function when(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(lang() === "de" ? "de-DE" : "en-GB", { dateStyle: "short", timeStyle: "short" });
  }

  function actor(name) {
    if (name === "customer") return t("customer");
    if (name === "bot") return t("bot");
    return name;
  }

  function timelineItem(event) {
    const item = el("li", null, `complaint-event complaint-event-${event.kind}`);
    item.append(el("time", when(event.at)), " ", el("strong", actor(event.actor)), " · ");
    item.append(el("span", t("kinds", event.kind) || event.kind, "complaint-event-kind"));
    if (event.status) item.append(": ", el("span", t("states", event.status) || event.status));
    if (event.text) item.append(el("div", event.text, "complaint-event-text"));
    if (event.media_url && /^https?:\/\//.test(event.media_url)) {
      const link = el("a", t("photo"));
      link.href = event.media_url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      item.append(" ", link);
    }
    return item;
  }

  function card(complaint) {
    const box = el("article", null, "complaint");
    box.dataset.reference = complaint.reference;
    const head = el("h3", complaint.reference);
    head.append(" ", el("span", t("states", complaint.status) || complaint.status, `complaint-state complaint-state-${complaint.status}`));
    box.append(head);
    const facts = el("dl");
    facts.append(el("dt", t("order")), el("dd", complaint.order_number || "–"));
    facts.append(el("dt", t("category")), el("dd", complaint.category));
    box.append(facts, el("p", complaint.description, "complaint-description"));

    const list = el("ol", null, "complaint-timeline");
    list.setAttribute("aria-label", t("timeline"));
    for (const event of complaint.timeline || []) list.append(timelineItem(event));
    box.append(list);

    const form = el("form", null, "complaint-change");
    const closed = FINAL.includes(complaint.status);
    const selectId = `complaint-state-${complaint.reference}`;
    const textId = `complaint-resolution-${complaint.reference}`;
    const selectLabel = el("label", t("state"));
    selectLabel.htmlFor = selectId;
    const select = el("select");
    select.id = selectId;
    select.name = "status";
    for (const value of STATES) {
      const option = el("option", t("states", value));
      option.value = value;
      option.selected = value === complaint.status;
      select.append(option);
    }
    const textLabel = el("label", t("resolution"));
    textLabel.htmlFor = textId;
    const text = el("textarea");
    text.id = textId;
    text.name = "resolution";
    text.rows = 3;
    text.maxLength = 2000;
    text.value = complaint.resolution || "";
    const save = el("button", t("save"));
    save.type = "submit";
    const note = el("p", "", "complaint-note");
    note.setAttribute("role", "status");
    for (const control of [select, text, save]) control.disabled = closed;
    form.append(selectLabel, select, textLabel, text, save, note);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const wanted = select.value;
      const resolution = text.value.trim();
      if (FINAL.includes(wanted) && !resolution) {
        note.textContent = t("needsResolution");
        return;
      }
      save.disabled = true;
      const { status, data } = await api("POST", `/api/complaints/${encodeURIComponent(complaint.reference)}`,
        { status: wanted, resolution: resolution || null });
      if (status === 200) {
        const index = state.complaints.findIndex((c) => c.reference === complaint.reference);
        if (index >= 0) state.complaints[index] = data.complaint;
        state.message = FINAL.includes(wanted) ? t("saved") : t("savedQuiet");
        render();
      } else {
        save.disabled = false;
        note.textContent = data.detail || `HTTP ${status}`;
      }
    });
    box.append(form);
    return box;
  }

  function render() {
    const root = panel();
    if (!root) return;
    root.replaceChildren(el("h2", t("title")));
    if (state.message) root.append(el("p", state.message, "complaints-message"));
    if (!state.conversation) return;
    if (!state.complaints.length && !state.message) root.append(el("p", t("none"), "complaints-none"));
    for (const complaint of state.complaints) root.append(card(complaint));
  }

  document.addEventListener("shopdesk:signed-in", (event) => {
    state.token = event.detail && event.detail.token;
    load();
  });
  document.addEventListener("shopdesk:conversation-opened", (event) => {
    state.conversation = event.detail && event.detail.conversation_id;
    state.message = "";
    load();
  });
  document.addEventListener("shopdesk:lang", () => render());
})();
