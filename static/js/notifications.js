// Live notifications: keeps the "Notifications" count in the header up to date and
// reads new notifications out politely. The page works the same without it.

const link = document.getElementById("nav-notifications");
const announcer = document.getElementById("live-announcer");

if (link && "WebSocket" in window) {
  let attempt = 0;

  function badge() {
    let el = link.querySelector(".badge");
    if (!el) {
      el = document.createElement("span");
      el.className = "badge";
      el.dataset.count = "0";
      link.append(" ", el);
    }
    return el;
  }

  function bump() {
    const el = badge();
    const count = (Number(el.dataset.count || el.firstChild?.textContent) || 0) + 1;
    el.dataset.count = String(count);
    el.replaceChildren(String(count));
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = " unread";
    el.append(hidden);
  }

  function say(text) {
    if (!announcer) return;
    const p = document.createElement("p");
    p.textContent = text;
    announcer.append(p);
    while (announcer.childElementCount > 3) announcer.firstElementChild.remove();
  }

  // On a thread page, a reply to this thread offers a link to it instead of a reload.
  function showNewReplies(frame) {
    const banner = document.getElementById("new-replies");
    if (!banner || !frame.url || !frame.url.startsWith(banner.dataset.threadPath)) return;
    const link = document.createElement("a");
    link.href = frame.url;
    link.textContent = "New replies: show them";
    banner.replaceChildren(link);
    banner.hidden = false;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/notifications/`);
    socket.addEventListener("open", () => { attempt = 0; });
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame.type !== "notification") return;
      bump();
      say(`New notification: ${frame.text}`);
      showNewReplies(frame);
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) return; // logged out: nothing to listen for
      attempt += 1;
      const base = Math.min(60000, 1000 * 2 ** Math.min(attempt, 6));
      setTimeout(connect, base / 2 + Math.random() * (base / 2));
    });
  }

  connect();
}
