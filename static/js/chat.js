// Kindred group chat: live updates over a WebSocket, without a build step.
//
// Promises to the person using it: nothing they type is lost (messages written while
// offline wait in the page, and in this tab's storage, and go out with the same client_id
// when the connection is back, so they are never doubled); nothing sent by others is
// missed (we reconnect with ?after=<last id> and the server replays what we missed);
// new messages are announced politely and never move the keyboard focus.

const root = document.querySelector("[data-chat]");

if (root) {
  const log = document.getElementById("chat-log");
  const statusEl = document.getElementById("chat-status");
  const presenceEl = document.getElementById("chat-presence");
  const typingEl = document.getElementById("chat-typing");
  const announcer = document.getElementById("chat-announcer");
  const panel = document.getElementById("chat-panel");
  const form = document.getElementById("chat-form");
  const textarea = document.getElementById("chat-body");
  const errorEl = document.getElementById("chat-error");
  const earlier = document.getElementById("chat-earlier");
  const myId = Number(root.dataset.userId);
  const storeKey = `kindred.chat.pending.${root.dataset.group}`;

  let lastId = Number(root.dataset.lastId) || 0;
  let socket = null;
  let attempt = 0;
  let reconnectTimer = null;
  let stopped = false;
  let lastTypingSent = 0;
  let typingTimer = null;
  // client_id -> {body, confirm}; kept in order of writing.
  const pending = new Map(loadPending());

  function loadPending() {
    try {
      return JSON.parse(sessionStorage.getItem(storeKey) || "[]");
    } catch {
      return [];
    }
  }

  function savePending() {
    try {
      sessionStorage.setItem(storeKey, JSON.stringify([...pending]));
    } catch {
      /* storage full or blocked: the page still holds the queue */
    }
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function setStatus(text, offline = false) {
    statusEl.textContent = text;
    statusEl.classList.toggle("is-offline", offline);
  }

  function announce(text) {
    const p = document.createElement("p");
    p.textContent = text;
    announcer.append(p);
    while (announcer.childElementCount > 5) announcer.firstElementChild.remove();
  }

  function focusHome() {
    if (textarea) {
      textarea.focus();
      return;
    }
    const heading = document.getElementById("chat-heading");
    heading.tabIndex = -1;
    heading.focus();
  }

  function formatTime(iso) {
    const d = new Date(iso);
    return d.toLocaleString([], { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }

  function messageElement(message) {
    const li = document.createElement("li");
    li.className = "chat-message";
    li.id = `message-${message.id}`;
    li.dataset.id = message.id;
    const meta = document.createElement("p");
    meta.className = "chat-meta";
    const who = document.createElement("strong");
    who.textContent = message.author.name;
    const when = document.createElement("time");
    when.dateTime = message.created;
    when.textContent = formatTime(message.created);
    meta.append(who, " ", when);
    const body = document.createElement("div");
    body.className = "chat-body";
    body.innerHTML = message.body_html; // sanitised on the server by the one allow-list
    li.append(meta, body);
    if (message.author.id !== myId) {
      const flag = document.createElement("p");
      flag.className = "chat-flag";
      const link = document.createElement("a");
      link.href = `/moderation/flag/chat_message/${message.id}/`;
      link.textContent = "Flag";
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " this message";
      link.append(hidden);
      flag.append(link);
      li.append(flag);
    }
    return li;
  }

  function pendingElement(clientId, body) {
    let li = document.getElementById(`pending-${clientId}`);
    if (li) return li;
    li = document.createElement("li");
    li.className = "chat-message is-pending";
    li.id = `pending-${clientId}`;
    const meta = document.createElement("p");
    meta.className = "chat-meta";
    const who = document.createElement("strong");
    who.textContent = "You";
    meta.append(who);
    const text = document.createElement("div");
    text.className = "chat-body";
    const para = document.createElement("p");
    para.textContent = body;
    text.append(para);
    const state = document.createElement("p");
    state.className = "chat-state";
    state.textContent = "Waiting to send…";
    li.append(meta, text, state);
    log.append(li);
    return li;
  }

  function setPendingState(clientId, text, failed = false) {
    const li = document.getElementById(`pending-${clientId}`);
    if (!li) return;
    li.querySelector(".chat-state").textContent = text;
    li.classList.toggle("is-failed", failed);
  }

  function removeEmptyNote() {
    document.getElementById("chat-empty")?.remove();
  }

  function addMessage(message, { announceIt = true } = {}) {
    if (document.getElementById(`message-${message.id}`)) return;
    removeEmptyNote();
    const li = messageElement(message);
    const mine = message.author.id === myId;
    const placeholder = mine && document.getElementById(`pending-${message.client_id}`);
    if (placeholder) {
      placeholder.replaceWith(li);
      pending.delete(message.client_id);
      savePending();
    } else {
      // Keep the list in id order even if frames arrive out of order.
      const later = [...log.querySelectorAll(".chat-message[data-id]")].find(
        (el) => Number(el.dataset.id) > message.id,
      );
      if (later) later.before(li);
      else {
        const firstPending = log.querySelector(".chat-message.is-pending");
        if (firstPending) firstPending.before(li);
        else log.append(li);
      }
    }
    if (message.id > lastId) lastId = message.id;
    if (announceIt && !mine) announce(`${message.author.name} says: ${li.querySelector(".chat-body").textContent}`);
  }

  function showPanel(title, text, resources, actions = []) {
    panel.replaceChildren();
    const box = document.createElement("div");
    box.className = "panel";
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", title);
    const h = document.createElement("h3");
    h.textContent = title;
    const p = document.createElement("p");
    p.textContent = text;
    box.append(h, p);
    if (resources && resources.length) {
      const ul = document.createElement("ul");
      const link = (href, label) => {
        const a = document.createElement("a");
        a.href = href;
        a.textContent = label;
        return a;
      };
      for (const r of resources) {
        const li = document.createElement("li");
        const name = document.createElement("strong");
        if (r.url && /^https:\/\//.test(r.url)) {
          const a = link(r.url, r.name);
          a.rel = "noopener nofollow";
          name.append(a);
        } else {
          name.textContent = r.name;
        }
        li.append(name);
        if (r.phone) li.append(" · call ", link(`tel:${r.phone.replace(/\s+/g, "")}`, r.phone));
        if (r.text_number) {
          li.append(" · text ", link(`sms:${r.text_number.replace(/\s+/g, "")}`, r.text_number));
        }
        if (r.email) li.append(" · email ", link(`mailto:${r.email}`, r.email));
        if (r.text) li.append(document.createElement("br"), r.text);
        if (r.hours) li.append(` (${r.hours})`);
        ul.append(li);
      }
      box.append(ul);
    }
    const row = document.createElement("div");
    row.className = "actions";
    for (const [label, handler, secondary] of actions) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      if (secondary) b.className = "secondary";
      b.addEventListener("click", handler);
      row.append(b);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.className = "secondary";
    close.textContent = "Close";
    close.addEventListener("click", () => {
      panel.replaceChildren();
      textarea?.focus();
    });
    row.append(close);
    box.append(row);
    panel.append(box);
    panel.focus();
  }

  function showError(text) {
    if (!errorEl) return;
    errorEl.hidden = !text;
    errorEl.textContent = text ? `Not sent: ${text}` : "";
  }

  function sendFrame(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function sendPending(clientId) {
    const item = pending.get(clientId);
    if (!item) return;
    const frame = { type: "message.send", body: item.body, client_id: clientId };
    if (item.confirm) frame.confirm = true;
    if (sendFrame(frame)) setPendingState(clientId, "Sending…");
    else setPendingState(clientId, "Waiting for the connection. It will be sent when we're back.");
  }

  function flushPending() {
    for (const clientId of pending.keys()) sendPending(clientId);
  }

  function takeBack(clientId) {
    // Put the text back in the box, so nothing the person wrote is lost.
    const item = pending.get(clientId);
    document.getElementById(`pending-${clientId}`)?.remove();
    pending.delete(clientId);
    savePending();
    if (item && textarea) {
      textarea.value = item.body;
      textarea.focus();
    }
  }

  function handle(frame) {
    switch (frame.type) {
      case "history":
        if (frame.before) {
          insertOlder(frame.messages, frame.more);
        } else {
          for (const m of frame.messages) addMessage(m, { announceIt: false });
          if (frame.more) markGap(frame.messages[0]?.id);
        }
        break;
      case "message.new":
        addMessage(frame.message);
        break;
      case "message.ack":
        if (frame.status === "held") {
          setPendingState(frame.client_id, "Held for a moderator to look at before others see it.");
          pending.delete(frame.client_id);
          savePending();
        } else if (!document.getElementById(`message-${frame.id}`)) {
          setPendingState(frame.client_id, "Sent");
        }
        break;
      case "message.prompt":
        setPendingState(frame.client_id, "Not sent yet: please read the note below.");
        showPanel(frame.title, frame.text, frame.resources, [
          ["Edit my message", () => { panel.replaceChildren(); takeBack(frame.client_id); }, false],
          ["Send anyway", () => {
            const item = pending.get(frame.client_id);
            if (item) { item.confirm = true; savePending(); sendPending(frame.client_id); }
            panel.replaceChildren();
            textarea?.focus();
          }, true],
        ]);
        break;
      case "signpost":
        showPanel(frame.title, frame.text, frame.resources);
        break;
      case "message.removed": {
        const gone = document.getElementById(`message-${frame.id}`);
        if (!gone) break;
        // If the keyboard was on it (its Flag link, say), put the focus somewhere useful
        // instead of letting it fall back to the top of the page.
        const hadFocus = gone.contains(document.activeElement);
        gone.remove();
        announce("A moderator removed a message.");
        if (hadFocus) focusHome();
        break;
      }
      case "presence": {
        const names = frame.online.map((p) => p.name);
        presenceEl.textContent = names.length ? `Here now: ${names.join(", ")}` : "";
        break;
      }
      case "typing":
        typingEl.textContent = `${frame.user.name} is typing…`;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { typingEl.textContent = ""; }, 4000);
        break;
      case "error":
        handleError(frame);
        break;
      default:
        break;
    }
  }

  function handleError(frame) {
    const id = frame.client_id;
    if (id && pending.has(id)) {
      // A short wait is retried for the person; a long one (a new account's hourly
      // allowance) gives the words back instead of knocking on the door all hour.
      const wait = frame.retry_after || 5;
      if (frame.code === "unavailable" || (frame.code === "rate_limited" && wait <= 60)) {
        setPendingState(id, `${frame.detail} We'll try again shortly.`, true);
        setTimeout(() => sendPending(id), Math.max(wait, 5) * 1000);
        return;
      }
      takeBack(id);
    }
    showError(frame.detail);
  }

  let gapBefore = null;
  function markGap(oldestShownId) {
    if (!earlier || !oldestShownId) return;
    gapBefore = oldestShownId;
    earlier.dataset.before = oldestShownId;
    earlier.hidden = false;
  }

  function insertOlder(messages, more) {
    const anchor = log.querySelector(`#message-${gapBefore}`) || log.firstElementChild;
    for (const m of messages) {
      if (document.getElementById(`message-${m.id}`)) continue;
      const li = messageElement(m);
      if (anchor) anchor.before(li);
      else log.append(li);
    }
    if (messages.length) {
      gapBefore = messages[0].id;
      earlier.dataset.before = gapBefore;
    }
    // Hiding the button while the keyboard is on it would drop the focus to the top of
    // the page: hand it to the oldest message instead, where reading goes on.
    const hadFocus = document.activeElement === earlier;
    earlier.hidden = !more;
    if (hadFocus && !more) {
      const oldest = log.querySelector(".chat-message");
      if (oldest) {
        oldest.tabIndex = -1;
        oldest.focus();
      }
    }
    announce(`${messages.length} earlier message${messages.length === 1 ? "" : "s"} shown.`);
  }

  // The page shows the newest messages; reading further back needs this script, so the
  // button (drawn only when there is more) is shown by it.
  if (earlier) earlier.hidden = false;
  earlier?.addEventListener("click", () => {
    gapBefore = gapBefore || Number(earlier.dataset.before);
    sendFrame({ type: "history", before: Number(earlier.dataset.before), limit: 50 });
  });

  function connect() {
    clearTimeout(reconnectTimer);
    if (stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}${root.dataset.wsPath}?after=${lastId}`;
    setStatus(attempt ? "Reconnecting…" : "Connecting…", attempt > 0);
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      attempt = 0;
      setStatus("Connected. New messages appear here as they are sent.");
      flushPending();
    });
    socket.addEventListener("message", (event) => {
      try {
        handle(JSON.parse(event.data));
      } catch (err) {
        console.error("chat: bad frame", err);
      }
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      const final = {
        4401: "Your session has ended. Please log in again to chat.",
        4403: "Only members of this group can use its chat.",
        4404: "This chat is not available to you.",
      }[event.code];
      if (final) {
        stopped = true;
        setStatus(final, true);
        return;
      }
      scheduleReconnect(event.code === 4429 ? 30000 : 0);
    });
  }

  function scheduleReconnect(minimum = 0) {
    attempt += 1;
    const base = Math.min(30000, 1000 * 2 ** Math.min(attempt - 1, 5));
    const delay = Math.max(minimum, base / 2 + Math.random() * (base / 2));
    setStatus(`Connection lost. Reconnecting in ${Math.ceil(delay / 1000)} seconds… Your messages will be kept.`, true);
    reconnectTimer = setTimeout(connect, delay);
  }

  window.addEventListener("online", () => { if (!socket && !stopped) { attempt = 0; connect(); } });
  window.addEventListener("offline", () => setStatus("You're offline. Messages you write will be sent when you're back.", true));

  if (form && textarea) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = textarea.value.trim();
      if (!body) {
        showError("Please write a message before sending.");
        textarea.focus();
        return;
      }
      if (body.length > 4000) {
        showError(`Messages can be up to 4000 characters. This one has ${body.length}.`);
        return;
      }
      showError("");
      const clientId = newClientId();
      pending.set(clientId, { body });
      savePending();
      removeEmptyNote();
      pendingElement(clientId, body);
      sendPending(clientId);
      textarea.value = "";
      textarea.focus();
    });
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    textarea.addEventListener("input", () => {
      const now = Date.now();
      if (now - lastTypingSent > 3000) {
        lastTypingSent = now;
        sendFrame({ type: "typing" });
      }
    });
  }

  for (const [clientId, item] of pending) pendingElement(clientId, item.body);
  connect();
}
