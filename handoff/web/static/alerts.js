// Early warnings for supervisors in the agent console: a banner in #alerts-banner, fed by
// GET /api/reports/alerts. Works against console.js's events only (shopdesk:signed-in,
// shopdesk:lang); does nothing without the container or for agents. Text via textContent only.
"use strict";
(() => {
  const POLL_MS = 30000;
  const LABELS = {
    de: { title: "Frühwarnungen", reports: "Berichte öffnen", dismiss: "Ausblenden" },
    en: { title: "Early warnings", reports: "Open reports", dismiss: "Hide" },
  };
  const state = { token: null, timer: null, alerts: [], hidden: new Set() };

  function lang() { return document.documentElement.lang === "de" ? "de" : "en"; }
  function banner() { return document.getElementById("alerts-banner"); }

  function render() {
    const box = banner();
    if (!box) return;
    box.replaceChildren();
    const shown = state.alerts.filter((a) => !state.hidden.has(a.key));
    box.hidden = shown.length === 0;
    if (!shown.length) return;
    const labels = LABELS[lang()];
    const title = document.createElement("strong");
    title.textContent = `${labels.title} (${shown.length})`;
    const list = document.createElement("ul");
    list.className = "alerts";
    for (const alert of shown) {
      const item = document.createElement("li");
      item.dataset.kind = alert.kind;
      item.textContent = alert.text;
      const hide = document.createElement("button");
      hide.type = "button";
      hide.textContent = labels.dismiss;
      hide.addEventListener("click", () => { state.hidden.add(alert.key); render(); });
      item.append(" ", hide);
      list.append(item);
    }
    const link = document.createElement("a");
    link.href = "/reports";
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = labels.reports;
    box.append(title, list, link);
  }

  async function poll() {
    if (!state.token || !banner()) return;
    try {
      const response = await fetch("/api/reports/alerts", { headers: { Authorization: `Bearer ${state.token}` } });
      if (!response.ok) return;
      state.alerts = (await response.json()).alerts || [];
      render();
    } catch (_error) {
      // the next poll tries again
    }
  }

  document.addEventListener("shopdesk:signed-in", (event) => {
    const detail = event.detail || {};
    clearInterval(state.timer);
    state.token = detail.role === "supervisor" ? detail.token : null;
    state.alerts = [];
    render();
    if (!state.token) return;
    poll();
    state.timer = setInterval(poll, POLL_MS);
  });
  document.addEventListener("shopdesk:lang", render);
  window.shopdeskAlerts = { poll, state };
})();
