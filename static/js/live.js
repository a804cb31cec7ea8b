/* Clipstream live events: one websocket per page to /ws/progress/ (see DESIGN.md).
   clipstream.live.subscribe(topic, handler) → the server answers with a snapshot, then events.
   Reconnects with backoff and re-subscribes (a fresh snapshot repairs anything missed).
   The `user` topic drives toasts (and, if permitted, a browser Notification) on every page. */
(function () {
  "use strict";
  const cs = (window.clipstream = window.clipstream || {});
  if (cs.live) return;
  const handlers = new Map(); // topic -> Set(fn)
  let ws = null;
  let backoff = 500;
  const stats = { messages: 0, opened: 0 };

  function url() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/progress/";
  }

  function connect() {
    ws = new WebSocket(url());
    ws.addEventListener("open", () => {
      stats.opened += 1;
      backoff = 500;
      if (handlers.size) ws.send(JSON.stringify({ subscribe: [...handlers.keys()] }));
    });
    ws.addEventListener("message", (e) => {
      stats.messages += 1;
      let msg;
      try { msg = JSON.parse(e.data); } catch (_) { return; }
      const set = handlers.get(msg.topic);
      if (set) set.forEach((fn) => fn(msg));
    });
    ws.addEventListener("close", (e) => {
      ws = null;
      if (e.code === 4401) return; // not signed in: nothing to follow
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    });
  }

  function subscribe(topic, fn) {
    if (!handlers.has(topic)) handlers.set(topic, new Set());
    handlers.get(topic).add(fn);
    if (!ws) connect();
    else if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ subscribe: [topic] }));
    return () => {
      const set = handlers.get(topic);
      if (!set) return;
      set.delete(fn);
      if (!set.size) {
        handlers.delete(topic);
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ unsubscribe: [topic] }));
      }
    };
  }

  function toast(text, href) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement(href ? "a" : "div");
    el.className = "toast";
    el.textContent = text;
    if (href) el.href = href;
    box.appendChild(el);
    setTimeout(() => el.remove(), 6000);
  }

  function notify(text, href) {
    if (!("Notification" in window) || Notification.permission !== "granted" || !document.hidden) return;
    const n = new Notification("Clipstream", { body: text });
    if (href) n.onclick = () => { window.focus(); location.href = href; };
  }

  cs.live = { subscribe, toast, notify, stats };
})();
