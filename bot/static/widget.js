/*
 * shopdesk chat widget: <script src="https://your-gateway/widget.js" defer></script>
 *
 * Adds a chat button and a panel to the page. Talks to the gateway's WS /webchat/ws (frames
 * documented in bot/channels/webchat.py). A random session id in localStorage keeps the
 * conversation across reloads; the connection comes back with backoff after a drop, shows the
 * history, and sends what was typed while offline. Every text from customers, the bot or agents
 * goes in with textContent, never as HTML.
 */
(function () {
  "use strict";
  if (window.__shopdeskWidget) return;
  window.__shopdeskWidget = true;

  var script = document.currentScript;
  var base = new URL(script && script.src ? script.src : "/widget.js", window.location.href);
  var wsUrl = (base.protocol === "https:" ? "wss:" : "ws:") + "//" + base.host + "/webchat/ws";
  var uploadUrl = base.protocol + "//" + base.host + "/webchat/upload";
  var language = (document.documentElement.lang || navigator.language || "de").slice(0, 2).toLowerCase();
  var de = language !== "en";
  var T = de ? {
    open: "Chat öffnen", close: "Chat schließen", title: "Kundenservice", placeholder: "Deine Nachricht …",
    send: "Senden", typing: "schreibt …", photo: "Foto anhängen", photoFailed: "Das Foto wurde nicht gesendet: ",
    tooLarge: "Es ist zu groß.", wrongType: "Bitte ein Bild (JPEG, PNG, GIF oder WebP) wählen.", attachment: "Anhang", connecting: "Verbinde …", offline: "Keine Verbindung – neuer Versuch gleich.",
    queued: "wird gesendet, sobald die Verbindung steht", you: "Du", bot: "Assistent", agent: "Mitarbeiter",
    stars: function (n) { return n + " von 5 Sternen"; }, rate: "Bewertung"
  } : {
    open: "Open chat", close: "Close chat", title: "Customer service", placeholder: "Your message …",
    send: "Send", typing: "is typing …", photo: "Attach a photo", photoFailed: "The photo was not sent: ",
    tooLarge: "It is too large.", wrongType: "Please pick an image (JPEG, PNG, GIF or WebP).", attachment: "Attachment", connecting: "Connecting …", offline: "No connection – retrying shortly.",
    queued: "will be sent once connected", you: "You", bot: "Assistant", agent: "Agent",
    stars: function (n) { return n + " of 5 stars"; }, rate: "Rating"
  };

  var STORE = "shopdesk.session";
  function newSessionId() {
    var bytes = new Uint8Array(18);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  var sessionId = null;
  try { sessionId = localStorage.getItem(STORE); } catch (e) { /* storage blocked: a session per page */ }
  if (!sessionId || !/^[A-Za-z0-9_-]{16,64}$/.test(sessionId)) {
    sessionId = newSessionId();
    try { localStorage.setItem(STORE, sessionId); } catch (e) { /* ignore */ }
  }

  // ---- styles and elements (no framework, no HTML strings) ----
  // A constructed style sheet is no inline style: it works under a Content-Security-Policy without
  // 'unsafe-inline' (the gateway's own pages, a shop's strict policy); a <style> element otherwise.
  function addStyles(css) {
    if (window.CSSStyleSheet && "adoptedStyleSheets" in document) {
      try {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(css);
        document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
        return;
      } catch (e) { /* an older browser: fall back */ }
    }
    var style = document.createElement("style");
    style.textContent = css;
    document.head.appendChild(style);
  }
  addStyles([
    ".sdw-launch{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;",
    "background:#1f5f4a;color:#fff;font:600 16px/1 system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".sdw-launch:focus-visible,.sdw-panel button:focus-visible,.sdw-panel textarea:focus-visible{outline:3px solid #f5b400;outline-offset:2px}",
    ".sdw-panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:360px;max-width:calc(100vw - 40px);height:520px;",
    "max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;color:#1b1b1b;border-radius:12px;",
    "box-shadow:0 8px 30px rgba(0,0,0,.3);font:15px/1.4 system-ui,sans-serif;overflow:hidden}",
    ".sdw-panel[hidden]{display:none}",
    ".sdw-head{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:#1f5f4a;color:#fff}",
    ".sdw-head h2{margin:0;font-size:16px}",
    ".sdw-x{background:transparent;border:0;color:#fff;font-size:22px;cursor:pointer;min-width:44px;min-height:44px}",
    ".sdw-status{padding:4px 14px;font-size:13px;color:#6b4b00;background:#fff6d6}",
    ".sdw-status:empty{display:none}",
    ".sdw-log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}",
    ".sdw-msg{max-width:85%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".sdw-customer{align-self:flex-end;background:#1f5f4a;color:#fff}",
    ".sdw-bot,.sdw-agent{align-self:flex-start;background:#eef2f0}",
    ".sdw-agent{border-left:4px solid #f5b400}",
    ".sdw-note{align-self:center;font-size:13px;color:#8a1c1c}",
    ".sdw-pending{opacity:.6}",
    ".sdw-msg a{color:inherit;text-decoration:underline}",
    ".sdw-who{display:block;font-size:12px;opacity:.75}",
    ".sdw-buttons{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}",
    ".sdw-buttons button{border:1px solid #1f5f4a;background:#fff;color:#1f5f4a;border-radius:16px;padding:8px 12px;min-height:44px;cursor:pointer;font:inherit}",
    ".sdw-buttons button:disabled{opacity:.5;cursor:default}",
    ".sdw-stars button{border:0;font-size:28px;padding:4px;min-width:44px;background:transparent;color:#c9c9c9}",
    ".sdw-stars button.sdw-on{color:#f5b400}",
    ".sdw-typing{padding:0 14px 6px;font-size:13px;color:#555;min-height:1.2em}",
    ".sdw-form{display:flex;gap:8px;padding:10px;border-top:1px solid #ddd}",
    ".sdw-form textarea{flex:1;resize:none;font:inherit;padding:8px;border:1px solid #bbb;border-radius:8px;min-height:44px}",
    ".sdw-msg img{display:block;max-width:100%;max-height:240px;margin-top:6px;border-radius:8px}",
    ".sdw-form .sdw-attach{background:#fff;color:#1f5f4a;border:1px solid #1f5f4a;padding:0 10px;font-size:20px}",
    ".sdw-form button{border:0;border-radius:8px;background:#1f5f4a;color:#fff;padding:0 14px;min-height:44px;font:inherit;cursor:pointer}",
    ".sdw-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.sdw-panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0}",
    ".sdw-launch{right:12px;bottom:12px}}"
  ].join(""));

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  var launcher = el("button", "sdw-launch", "Chat");
  launcher.type = "button";
  launcher.setAttribute("aria-label", T.open);
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "sdw-panel");

  var panel = el("section", "sdw-panel");
  panel.id = "sdw-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", T.title);

  var head = el("div", "sdw-head");
  var title = el("h2", null, T.title);
  var closeBtn = el("button", "sdw-x", "×");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", T.close);
  head.appendChild(title);
  head.appendChild(closeBtn);

  var status = el("div", "sdw-status");
  status.setAttribute("role", "status");
  var log = el("div", "sdw-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-relevant", "additions");
  log.tabIndex = 0;
  var typing = el("div", "sdw-typing");
  typing.setAttribute("aria-live", "polite");

  var form = el("form", "sdw-form");
  var label = el("label", "sdw-sr", T.placeholder);
  label.htmlFor = "sdw-input";
  var input = el("textarea");
  input.id = "sdw-input";
  input.rows = 1;
  input.placeholder = T.placeholder;
  var sendBtn = el("button", null, T.send);
  sendBtn.type = "submit";
  var fileInput = el("input", "sdw-sr");
  fileInput.type = "file";
  fileInput.accept = "image/jpeg,image/png,image/gif,image/webp";
  fileInput.tabIndex = -1;
  fileInput.setAttribute("aria-hidden", "true");
  var attachBtn = el("button", "sdw-attach");
  (function () {  // a camera icon drawn with SVG (emoji fonts are not everywhere)
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "22");
    svg.setAttribute("height", "22");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var body = document.createElementNS(ns, "path");
    body.setAttribute("d", "M4 7h3l2-3h6l2 3h3a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z");
    var lens = document.createElementNS(ns, "circle");
    lens.setAttribute("cx", "12");
    lens.setAttribute("cy", "13");
    lens.setAttribute("r", "4");
    [body, lens].forEach(function (shape) {
      shape.setAttribute("fill", "none");
      shape.setAttribute("stroke", "currentColor");
      shape.setAttribute("stroke-width", "2");
      svg.appendChild(shape);
    });
    attachBtn.appendChild(svg);
  })();
  attachBtn.type = "button";
  attachBtn.setAttribute("aria-label", T.photo);
  attachBtn.title = T.photo;
  attachBtn.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    if (fileInput.files && fileInput.files[0]) sendPhoto(fileInput.files[0]);
    fileInput.value = "";
  });
  form.appendChild(label);
  form.appendChild(attachBtn);
  form.appendChild(fileInput);
  form.appendChild(input);
  form.appendChild(sendBtn);

  panel.appendChild(head);
  panel.appendChild(status);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  document.body.appendChild(launcher);
  document.body.appendChild(panel);

  // ---- open / close ----
  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    launcher.setAttribute("aria-label", open ? T.close : T.open);
    try { sessionStorage.setItem("shopdesk.open", open ? "1" : ""); } catch (e) { /* ignore */ }
    if (open) { input.focus(); scrollDown(); } else { launcher.focus(); }
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeBtn.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { ev.preventDefault(); setOpen(false); }
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); submit(); }
  });
  // The agent sees "typing" while the customer types (a frame at most every 2.5 s).
  var typingSentAt = 0;
  input.addEventListener("input", function () {
    var now = Date.now();
    if (input.value.trim() && now - typingSentAt > 2500) {
      typingSentAt = now;
      sendFrame({ type: "typing" });
    }
  });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(); });

  // ---- rendering ----
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  var typingTimer = null;
  function showTyping(on, agent) {
    clearTimeout(typingTimer);
    typing.textContent = on ? (agent || T.bot) + " " + T.typing : "";
    if (on) typingTimer = setTimeout(function () { showTyping(false); }, agent ? 6000 : 20000);
  }

  // An attachment the gateway stored (its own /media/ URL): an image inline, anything else a link.
  function renderAttachment(bubble, attachment) {
    if (!attachment || typeof attachment.url !== "string") return;
    var url = null;
    try { url = new URL(attachment.url, base); } catch (e) { return; }
    if (url.protocol !== "http:" && url.protocol !== "https:") return;
    var name = String(attachment.name || T.attachment);
    if (/^image\//.test(String(attachment.content_type || ""))) {
      var img = el("img");
      img.src = url.href;
      img.alt = name;
      bubble.appendChild(img);
    } else {
      var link = el("a", null, name);
      link.href = url.href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      bubble.appendChild(document.createTextNode(" "));
      bubble.appendChild(link);
    }
  }

  function isRating(buttons) {
    if (!buttons || !buttons.length) return false;
    for (var i = 0; i < buttons.length; i++) {
      if (String(buttons[i].payload || "").indexOf("/give_rating") !== 0) return false;
    }
    return true;
  }

  function renderButtons(bubble, buttons) {
    var rating = isRating(buttons);
    var group = el("div", "sdw-buttons" + (rating ? " sdw-stars" : ""));
    group.setAttribute("role", "group");
    if (rating) group.setAttribute("aria-label", T.rate);
    var all = [];
    buttons.forEach(function (b, i) {
      var btn = el("button", null, rating ? "★" : b.title);
      btn.type = "button";
      if (rating) btn.setAttribute("aria-label", T.stars(i + 1));
      btn.addEventListener("click", function () {
        all.forEach(function (other, j) {
          other.disabled = true;
          if (rating && j <= i) other.classList.add("sdw-on");
        });
        sendText(b.payload, rating ? "★".repeat(i + 1) : b.title);
      });
      if (rating) {
        btn.addEventListener("mouseenter", function () { all.forEach(function (o, j) { o.classList.toggle("sdw-on", j <= i); }); });
        btn.addEventListener("focus", function () { all.forEach(function (o, j) { o.classList.toggle("sdw-on", j <= i); }); });
      }
      all.push(btn);
      group.appendChild(btn);
    });
    bubble.appendChild(group);
  }

  // A button the customer pressed is stored as its payload; show it as they saw it.
  function shownText(sender, text) {
    var rating = sender === "customer" && /^\/give_rating\{"rating": ?([1-5])\}$/.exec(text || "");
    return rating ? "★".repeat(Number(rating[1])) : text;
  }

  // Text with its http(s) links as <a> elements, built with DOM calls (never HTML from text).
  var URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  function linkified(text) {
    var fragment = document.createDocumentFragment();
    var value = String(text);
    var last = 0;
    var match;
    URL_PATTERN.lastIndex = 0;
    while ((match = URL_PATTERN.exec(value)) !== null) {
      var raw = match[0].replace(/[.,;:!?)\]}]+$/, "");
      var url = null;
      try { url = new URL(raw); } catch (e) { url = null; }
      if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
      fragment.appendChild(document.createTextNode(value.slice(last, match.index)));
      var link = el("a", null, raw);
      link.href = url.href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      fragment.appendChild(link);
      last = match.index + raw.length;
      URL_PATTERN.lastIndex = last;
    }
    fragment.appendChild(document.createTextNode(value.slice(last)));
    return fragment;
  }

  function addMessage(sender, text, buttons, extraClass) {
    var cls = sender === "customer" ? "sdw-customer" : sender === "agent" ? "sdw-agent" : sender === "note" ? "sdw-note" : "sdw-bot";
    var bubble = el("div", "sdw-msg " + cls + (extraClass ? " " + extraClass : ""));
    if (sender !== "note") {
      var who = el("span", "sdw-sr", (sender === "customer" ? T.you : sender === "agent" ? T.agent : T.bot) + ": ");
      bubble.appendChild(who);
    }
    if (text) bubble.appendChild(sender === "customer" ? document.createTextNode(text) : linkified(text));
    if (buttons && buttons.length) renderButtons(bubble, buttons);
    log.appendChild(bubble);
    scrollDown();
    return bubble;
  }

  // ---- the connection ----
  var ws = null;
  var ready = false;
  var retry = 0;
  var pending = [];  // {client_id, text, shown, element}: typed, not yet acknowledged
  var counter = 0;

  function clientId() {
    counter += 1;
    return Date.now().toString(36) + "-" + counter + "-" + Math.random().toString(36).slice(2, 8);
  }

  function sendFrame(frame) {
    if (ws && ready && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function sendText(text, shown) {
    var item = { client_id: clientId(), text: text, shown: shown || text, element: null };
    item.element = addMessage("customer", item.shown, null, "sdw-pending");
    if (!ready) item.element.title = T.queued;
    pending.push(item);
    sendFrame({ type: "message", text: item.text, client_id: item.client_id });
  }

  function sendPhoto(file) {
    var id = clientId();
    var bubble = addMessage("customer", "", null, "sdw-pending");
    var preview = el("img");
    preview.alt = file.name || T.photo;
    try { preview.src = URL.createObjectURL(file); } catch (e) { /* no preview */ }
    bubble.appendChild(preview);
    var body = new FormData();
    body.append("session_id", sessionId);
    body.append("client_id", id);
    body.append("language", language);
    body.append("file", file, file.name || "photo");
    fetch(uploadUrl, { method: "POST", body: body }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok && data.ok) { bubble.classList.remove("sdw-pending"); return; }
        bubble.remove();
        var why = data.error === "too_large" ? T.tooLarge : data.error === "type" ? T.wrongType : (data.text || data.detail || response.status);
        addMessage("note", T.photoFailed + why, null);
      });
    }).catch(function () {
      bubble.remove();
      addMessage("note", T.photoFailed + T.offline, null);
    });
  }

  function submit() {
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendText(text);
    input.focus();
  }

  function settle(clientIdValue, duplicate) {
    for (var i = 0; i < pending.length; i++) {
      if (pending[i].client_id === clientIdValue) {
        var item = pending.splice(i, 1)[0];
        if (item.element) {
          item.element.classList.remove("sdw-pending");
          item.element.removeAttribute("title");
          if (duplicate && item.shownAgain) item.element.remove();
        }
        return;
      }
    }
  }

  function onFrame(frame) {
    if (!frame || typeof frame.type !== "string") return;
    if (frame.type === "history") {
      limited = false;
      input.maxLength = frame.max_chars;  // the gateway's limit (MAX_MESSAGE_CHARS)
      while (log.firstChild) log.removeChild(log.firstChild);
      (frame.messages || []).forEach(function (m) { addMessage(m.sender, shownText(m.sender, m.text), m.buttons || null); });
      ready = true;
      // What was typed while offline: show it again after the history and send it now.
      pending.forEach(function (item) {
        item.element = addMessage("customer", item.shown, null, "sdw-pending");
        item.shownAgain = true;
        sendFrame({ type: "message", text: item.text, client_id: item.client_id });
      });
    } else if (frame.type === "ack") {
      settle(frame.client_id, frame.duplicate);
    } else if (frame.type === "typing") {
      showTyping(true, frame.agent);
    } else if (frame.type === "message") {
      showTyping(false);
      var bubble = addMessage(frame.sender === "agent" ? "agent" : "bot", frame.text, frame.buttons || []);
      if (frame.custom && frame.custom.attachment) { renderAttachment(bubble, frame.custom.attachment); scrollDown(); }
    } else if (frame.type === "error") {
      if (frame.client_id) settle(frame.client_id, false);
      // Refused for the whole connection (too many chats or windows from this address): the socket
      // closes and we reconnect slowly; the note is shown once, not at every attempt.
      var again = limited;
      limited = ADDRESS_LIMITS.indexOf(frame.reason) >= 0;
      if (!(again && limited)) addMessage("note", frame.text || frame.detail || frame.reason, null);
    }
  }

  function connect() {
    reconnectTimer = null;
    status.textContent = T.connecting;
    ready = false;
    try { ws = new WebSocket(wsUrl); } catch (e) { scheduleReconnect(); return; }
    ws.addEventListener("open", function () {
      retry = 0;
      status.textContent = "";
      ws.send(JSON.stringify({ type: "hello", session_id: sessionId, language: language }));
    });
    ws.addEventListener("message", function (ev) {
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(frame);
    });
    ws.addEventListener("close", function () {
      ready = false;
      showTyping(false);
      status.textContent = T.offline;
      scheduleReconnect();
    });
  }

  var reconnectTimer = null;
  var ADDRESS_LIMITS = ["too_many_conversations", "too_many_sockets"];
  var limited = false;  // the last connection was refused by an address limit
  function scheduleReconnect() {
    var delay = (limited ? 20000 : Math.min(10000, 500 * Math.pow(2, retry))) * (0.75 + Math.random() * 0.5);
    retry += 1;
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  }

  // Back online: no need to sit out the backoff.
  window.addEventListener("online", function () {
    if (reconnectTimer !== null && (!ws || ws.readyState === WebSocket.CLOSED)) {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      retry = 0;
      connect();
    }
  });

  // ---- privacy: a notice before the first message, and "delete this chat" ----
  // (POST /webchat/erase with the session id erases this session's conversation on the server;
  // the widget then starts a new session. GET /webchat/config gives the PRIVACY_URL link.)
  var P = de ? {
    notice: "Wir speichern diesen Chat, um dir zu helfen, und löschen ihn automatisch nach einiger Zeit.",
    link: "Datenschutz", erase: "Chat löschen", ask: "Diesen Chat mit allen Nachrichten endgültig löschen?",
    yes: "Ja, löschen", no: "Abbrechen", done: "Der Chat wurde gelöscht.", failed: "Löschen hat nicht geklappt – bitte später noch einmal."
  } : {
    notice: "We keep this chat to help you and delete it automatically after a while.",
    link: "Privacy", erase: "Delete this chat", ask: "Delete this chat and all its messages for good?",
    yes: "Yes, delete", no: "Cancel", done: "The chat was deleted.", failed: "Deleting did not work – please try again later."
  };
  addStyles([
    ".sdw-privacy,.sdw-done{padding:6px 14px;font-size:12px;color:#444;background:#f4f6f5;border-top:1px solid #ddd}",
    ".sdw-privacy a{color:#1f5f4a;margin-left:4px}",
    ".sdw-erase{background:transparent;border:1px solid rgba(255,255,255,.6);color:#fff;border-radius:6px;padding:4px 8px;",
    "min-height:32px;cursor:pointer;font:inherit;font-size:13px;margin-left:auto;margin-right:6px}",
    ".sdw-confirm{padding:10px 14px;background:#fff6d6;display:flex;flex-wrap:wrap;gap:8px;align-items:center}",
    ".sdw-confirm[hidden],.sdw-privacy[hidden],.sdw-done[hidden]{display:none}",
    ".sdw-confirm p{margin:0;flex-basis:100%}",
    ".sdw-confirm button{border:1px solid #1f5f4a;border-radius:6px;padding:6px 12px;min-height:40px;cursor:pointer;font:inherit}",
    ".sdw-confirm .sdw-yes{background:#8a1c1c;border-color:#8a1c1c;color:#fff}"
  ].join(""));

  var notice = el("div", "sdw-privacy", P.notice);
  panel.insertBefore(notice, form);
  var eraseBtn = el("button", "sdw-erase", P.erase);
  eraseBtn.type = "button";
  head.insertBefore(eraseBtn, closeBtn);
  var confirmBox = el("div", "sdw-confirm");
  confirmBox.setAttribute("role", "alertdialog");
  confirmBox.setAttribute("aria-label", P.erase);
  confirmBox.hidden = true;
  var yesBtn = el("button", "sdw-yes", P.yes);
  var noBtn = el("button", null, P.no);
  yesBtn.type = noBtn.type = "button";
  confirmBox.appendChild(el("p", null, P.ask));
  confirmBox.appendChild(yesBtn);
  confirmBox.appendChild(noBtn);
  panel.insertBefore(confirmBox, status);
  var doneNote = el("div", "sdw-done", P.done);
  doneNote.setAttribute("aria-live", "polite");
  doneNote.hidden = true;
  panel.insertBefore(doneNote, status);

  fetch(base.origin + "/webchat/config").then(function (r) { return r.ok ? r.json() : {}; }).then(function (config) {
    var url = config && config.privacy_url;
    if (typeof url === "string" && /^https?:\/\//.test(url)) {
      var a = el("a", null, P.link);
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      notice.appendChild(a);
    }
  }).catch(function () { /* the notice stands without its link */ });

  // The notice is for before the first message: it goes once the log shows one of the customer's.
  function customerWrote() { return !!log.querySelector(".sdw-customer"); }
  new MutationObserver(function () {
    notice.hidden = customerWrote();
    if (notice.hidden) doneNote.hidden = true;
  }).observe(log, { childList: true });

  eraseBtn.addEventListener("click", function () { confirmBox.hidden = false; yesBtn.focus(); });
  noBtn.addEventListener("click", function () { confirmBox.hidden = true; eraseBtn.focus(); });
  yesBtn.addEventListener("click", function () {
    yesBtn.disabled = true;
    fetch(base.origin + "/webchat/erase", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ session_id: sessionId })
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      pending = [];
      sessionId = newSessionId();
      try { localStorage.setItem(STORE, sessionId); } catch (e) { /* ignore */ }
      while (log.firstChild) log.removeChild(log.firstChild);
      doneNote.hidden = false;
      if (ws) ws.close();  // reconnects with the new session: an empty history
    }).catch(function () {
      addMessage("note", P.failed, null);
    }).then(function () {
      yesBtn.disabled = false;
      confirmBox.hidden = true;
      input.focus();
    });
  });

  connect();
  var wasOpen = false;
  try { wasOpen = sessionStorage.getItem("shopdesk.open") === "1"; } catch (e) { /* ignore */ }
  if (wasOpen) { panel.hidden = false; launcher.setAttribute("aria-expanded", "true"); launcher.setAttribute("aria-label", T.close); }
})();
