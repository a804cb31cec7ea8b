/* AI generation in the browser (see DESIGN.md "Websocket protocol"). Loaded on every page of a
   signed-in user by base.html, after live.js:
   - every page: a toast (and, if permitted, a browser Notification) when one of my jobs ends;
   - /generate/: the price of the chosen model/size/duration, from the server's JSON table;
   - /generate/jobs/<id>/: live progress, ETA and message pushed over the websocket, then the
     preview player. Nothing here polls: the socket's snapshot repairs any missed event. */
(function () {
  "use strict";
  const cs = (window.clipstream = window.clipstream || {});
  if (!cs.live) return;
  const jobEl = document.getElementById("job");
  const thisTopic = jobEl ? jobEl.dataset.topic : null;

  // A job's line in "My recent videos" follows its status too.
  function updateListItem(msg) {
    const el = document.querySelector(`li[data-job-id="${msg.job_id}"] .aigen__status`);
    if (!el || !msg.label) return;
    el.textContent = msg.label;
    el.className = "aigen__status aigen__status--" + msg.status;
  }

  // --- every page: endings on the `user` topic -----------------------------------------------
  // The server copies each of my events to `user`, with `source` = the original topic.
  const WORDS = { ready: "Your AI video is ready", failed: "Your AI video failed", canceled: "Your AI video was canceled" };
  cs.live.subscribe("user", (msg) => {
    if (!msg.source || !msg.source.startsWith("job:")) return;
    updateListItem(msg);
    if (!WORDS[msg.status] || msg.source === thisTopic) return; // this page shows it already
    const text = WORDS[msg.status] + ": " + (msg.prompt || "");
    cs.live.toast(text, msg.url);
    cs.live.notify(text, msg.url);
  });

  // --- /generate/: price before submitting --------------------------------------------------
  const form = document.getElementById("generate-form");
  const table = document.getElementById("aigen-prices");
  if (form && table) {
    const prices = JSON.parse(table.textContent);
    const model = form.elements.model, size = form.elements.size, seconds = form.elements.seconds;
    const priceEl = document.getElementById("price");
    const fill = (select, values, label, keep) => {
      const want = keep || select.value;
      select.replaceChildren(...values.map((v) => new Option(label(v), v)));
      if (values.map(String).includes(String(want))) select.value = want;
    };
    const refresh = (first) => {
      const [prov, name] = model.value.split("/");
      const p = prices[prov];
      if (!p) return;
      const sizes = Object.keys(p.models[name] || {});
      fill(size, sizes, (s) => s + (+s.split("x")[0] < +s.split("x")[1] ? " (portrait)" : " (landscape)"),
        first ? size.dataset.selected : null);
      if (!sizes.includes(size.value) && sizes.includes("720x1280")) size.value = "720x1280";
      fill(seconds, p.seconds, (s) => s + " s", first ? seconds.dataset.selected : null);
      const perSecond = (p.models[name] || {})[size.value] || 0;
      const total = perSecond * +seconds.value;
      priceEl.textContent = total ? "$" + total.toFixed(2) + " ($" + perSecond.toFixed(2) + "/s)" : "free (local)";
    };
    form.addEventListener("change", (e) => refresh(false));
    form.addEventListener("submit", () => {
      // A user gesture: the one moment a browser lets us ask for notifications.
      if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
    });
    refresh(true);
  }

  // --- /generate/jobs/<id>/: live progress and the preview ------------------------------------
  if (!jobEl) return;
  const $ = (id) => document.getElementById(id);
  const bar = $("job-bar"), label = $("job-label"), eta = $("job-eta"), message = $("job-message");
  const ACTIVE = ["queued", "submitted", "in_progress", "downloading", "processing"];
  const seen = new Set();
  let hls = null;
  cs.aigen = { events: [] }; // for tests and the latency figure: what arrived, when

  function attachPlayer(src, poster) {
    const video = $("job-player");
    if (!src || video.dataset.attached === src) return;
    video.dataset.attached = src;
    if (poster) video.poster = poster;
    $("job-preview").hidden = false;
    if (window.Hls && window.Hls.isSupported()) {
      hls = hls || new window.Hls({ capLevelToPlayerSize: true });
      hls.loadSource(src);
      hls.attachMedia(video);
    } else {
      video.src = src;
    }
    video.play().catch(() => {});
  }

  cs.live.subscribe(thisTopic, (msg) => {
    // A re-subscription after a reconnect can repeat an event: keep the first.
    const key = msg.status + "|" + msg.progress + "|" + msg.ts + "|" + (msg.snapshot ? "s" : "");
    if (seen.has(key)) return;
    seen.add(key);
    cs.aigen.events.push({ at: Date.now(), status: msg.status, progress: msg.progress, ts: msg.ts, snapshot: !!msg.snapshot });
    if (msg.status === "error") { message.textContent = "This job is not available."; return; }
    jobEl.dataset.status = msg.status;
    bar.style.width = Math.max(0, Math.min(100, msg.progress)) + "%";
    bar.parentElement.setAttribute("aria-valuenow", Math.round(msg.progress));
    label.textContent = msg.label || msg.status;
    message.textContent = msg.message && msg.message !== msg.label ? msg.message : "";
    updateListItem(msg);
    message.className = msg.status === "failed" ? "error" : "muted";
    eta.textContent = msg.eta_s && ACTIVE.includes(msg.status) ? "about " + Math.ceil(msg.eta_s) + " s left" : "";
    if (msg.cost) $("job-cost").textContent = (ACTIVE.includes(msg.status) ? "Estimated $" : "Cost $") + (+msg.cost).toFixed(2);
    const active = ACTIVE.includes(msg.status);
    $("regenerate-form").hidden = active;
    $("publish-form").hidden = msg.status !== "ready";
    document.querySelectorAll("form[action$='/cancel/']").forEach((f) => (f.hidden = !active));
    if (msg.master_url) {
      const start = () => attachPlayer(msg.master_url, msg.poster_url);
      window.Hls ? start() : window.addEventListener("load", start, { once: true });
    }
  });
})();
