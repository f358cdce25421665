// Live review queue: when a case in one of your groups changes, the list refreshes
// itself in place (no reload, focus untouched) and a polite note says what happened.

const list = document.querySelector("[data-live-queue]");
const note = document.getElementById("queue-live");

if (list && "WebSocket" in window) {
  let attempt = 0;

  async function refresh(frame) {
    try {
      const response = await fetch(location.href, { headers: { "X-Requested-With": "fetch" } });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.querySelector("[data-live-queue]");
      if (fresh) {
        // Replacing the list would drop the keyboard focus if it was on a case link:
        // put it back on the same case (or the list's heading if that case has gone).
        const focused = list.contains(document.activeElement) ? document.activeElement : null;
        const href = focused?.getAttribute("href");
        list.replaceChildren(...fresh.childNodes);
        if (focused) {
          const same = href && [...list.querySelectorAll("a[href]")].find(
            (a) => a.getAttribute("href") === href);
          const heading = document.getElementById("cases-heading");
          if (!same && heading) heading.tabIndex = -1;
          (same || heading)?.focus();
        }
      }
      const what = { flagged: "New flag", claimed: "A case was claimed", resolved: "A case was dealt with" };
      note.textContent = `${frame.urgent ? "Urgent. " : ""}${what[frame.change] || "Queue updated"}.`;
    } catch {
      /* the next change will try again */
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/notifications/`);
    socket.addEventListener("open", () => { attempt = 0; });
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame.type === "case") refresh(frame);
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) return;
      attempt += 1;
      const base = Math.min(30000, 1000 * 2 ** Math.min(attempt, 5));
      setTimeout(connect, base / 2 + Math.random() * (base / 2));
    });
  }

  connect();
}
