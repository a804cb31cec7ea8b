/* Clipstream feed player (see "Player" in DESIGN.md).
 *
 * - Cards are server-rendered; CSS scroll snap moves them. An IntersectionObserver on a zero-height
 *   line across the viewport's centre picks the active card: no layout work in scroll handlers.
 * - A fixed pool of <video> elements (3–5), each with ONE hls.js instance for its whole life, is
 *   moved between cards: active plays, the next N are prefetched (~3 s buffered, paused), the
 *   previous one is kept while the pool allows. The pool, not the card count, bounds decoders.
 * - The first rung comes from navigator.connection / battery; hls.js ABR takes over after it.
 * - `?pool=0` (or data-pool-size="0") runs a baseline: one video, loaded on arrival, no prefetch,
 *   hls.js defaults. bench/feed_bench.py compares the two.
 */
(function () {
  "use strict";
  const feed = document.getElementById("feed");
  if (!feed) return;

  const cs = (window.clipstream = window.clipstream || {});
  const metrics = (cs.metrics = { ttffMs: null, swipes: [], stalls: 0, stalledMs: 0, mode: "pool" });

  // --- configuration ------------------------------------------------------------------------------
  const params = new URLSearchParams(location.search);
  const requested = params.has("pool") ? parseInt(params.get("pool"), 10) : parseInt(feed.dataset.poolSize, 10);
  const baseline = requested === 0;
  const poolSize = baseline ? 1 : Math.max(3, Math.min(5, requested || 3));
  metrics.mode = baseline ? "baseline" : "pool";
  const hlsOk = !!(window.Hls && window.Hls.isSupported());
  const prefetchSeconds = () => (net.slow ? 2 : 3); // ~3 s ahead of a card not yet in view (one 2 s segment on slow links)
  const ACTIVE_BUFFER_SECONDS = 30;
  const KEEP_ABOVE = 4; // cards kept above the active one before they become spacer
  const LOAD_MORE_AHEAD = 3; // fetch the next page when this many cards remain

  const net = { slow: false, saveData: false, downlinkBps: 0, lowBattery: false, type: "" };
  function readConnection() {
    const c = navigator.connection;
    if (!c) return;
    net.type = c.effectiveType || "";
    net.saveData = !!c.saveData;
    net.slow = net.saveData || /(^|-)(2g|3g)$/.test(net.type);
    // Chrome rounds and caps `downlink`, and reports a default before it has measured anything:
    // it only narrows the start rung on connections that are not already "4g".
    net.downlinkBps = c.downlink && net.type !== "4g" ? c.downlink * 1e6 : 0;
  }
  readConnection();
  if (navigator.connection && navigator.connection.addEventListener) {
    navigator.connection.addEventListener("change", () => {
      readConnection();
      schedule(active);
    });
  }
  if (navigator.getBattery) {
    navigator.getBattery().then((b) => {
      const update = () => {
        net.lowBattery = !b.charging && b.level < 0.2;
        schedule(active);
      };
      b.addEventListener("levelchange", update);
      b.addEventListener("chargingchange", update);
      update();
    }).catch(() => {});
  }
  // How many cards ahead to prefetch: 3G, Save-Data or a low battery fetch one, else two.
  const prefetchDepth = () => (baseline ? 0 : net.slow || net.lowBattery ? 1 : Math.min(2, poolSize - 1));

  // Start rung: 360p on 3G/Save-Data; else the best rung that fits the player and the measured
  // downlink. hls.js ABR (with capLevelToPlayerSize) takes over from the second fragment.
  function startLevel(hls, video) {
    const levels = hls.levels || [];
    if (!levels.length) return -1;
    const shortEdge = (l) => Math.min(l.width || l.height || 0, l.height || l.width || 0);
    let lowest = 0;
    levels.forEach((l, i) => { if (shortEdge(l) < shortEdge(levels[lowest])) lowest = i; });
    if (net.slow) {
      let best = lowest;
      levels.forEach((l, i) => { if (shortEdge(l) <= 360 && shortEdge(l) > shortEdge(levels[best])) best = i; });
      return best;
    }
    // The smallest rung that covers the player (as capLevelToPlayerSize would), at most 720p for the
    // first fragment, within the measured downlink when there is one.
    const dpr = Math.min(window.devicePixelRatio || 1, 2);
    const want = Math.min(video.clientWidth || feed.clientWidth, (video.clientHeight || feed.clientHeight) * 0.5625) * dpr;
    const budget = net.downlinkBps ? net.downlinkBps * 0.7 : Infinity;
    const order = levels.map((l, i) => i).sort((x, y) => shortEdge(levels[x]) - shortEdge(levels[y]));
    let best = lowest;
    for (const i of order) {
      const l = levels[i];
      if (shortEdge(l) > 720 || (l.bitrate || 0) > budget) break;
      best = i;
      if (shortEdge(l) >= want) break;
    }
    if (net.lowBattery) { // a low battery never starts above 540p
      levels.forEach((l, i) => { if (shortEdge(levels[best]) > 540 && shortEdge(l) <= 540 && shortEdge(l) >= shortEdge(levels[lowest])) best = i; });
    }
    return best;
  }

  // --- the pool -----------------------------------------------------------------------------------
  const pool = [];
  function makeSlot() {
    const video = document.createElement("video");
    video.className = "card__video";
    video.muted = true;
    video.defaultMuted = true;
    video.loop = true;
    video.playsInline = true;
    video.setAttribute("playsinline", "");
    video.setAttribute("muted", "");
    video.preload = "auto";
    video.disablePictureInPicture = true;
    video.setAttribute("aria-hidden", "true");
    const slot = { video, hls: null, card: null, src: "", loading: false, parsed: false, flowing: false, lastTime: 0 };
    if (hlsOk) {
      const hls = new window.Hls({
        capLevelToPlayerSize: !baseline,
        autoStartLoad: baseline,
        maxBufferLength: baseline ? ACTIVE_BUFFER_SECONDS : prefetchSeconds(),
        maxMaxBufferLength: baseline ? 60 : prefetchSeconds(),
        backBufferLength: 10,
        startFragPrefetch: !baseline,
        testBandwidth: baseline,
        abrEwmaDefaultEstimate: net.slow ? 5e5 : net.downlinkBps || 5e6,
        enableWorker: true,
      });
      hls.attachMedia(video);
      hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
        slot.parsed = true;
        if (baseline || !slot.card || slot.loading) return;
        if (slot.card === active) startLoading(slot);
        else pumpPrefetch();
      });
      // A start segment served from the page's preload arrives "instantly" and would convince ABR
      // that a 3G link is fast: after it, restart the estimate from what the connection reports.
      hls.on(window.Hls.Events.FRAG_BUFFERED, (_e, data) => {
        if (!data.frag || data.frag.type !== "main") return;
        if (slot.prefetchPending) {
          slot.prefetchPending = false;
          applyActiveBuffer();
        }
        if (!net.slow || slot.estimateReset) return;
        slot.estimateReset = true;
        hls.bandwidthEstimate = Math.max(net.downlinkBps * 0.8, 4e5);
      });
      hls.on(window.Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal) return;
        if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) setTimeout(() => slot.card && hls.startLoad(), 1000);
        else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      });
      slot.hls = hls;
    }
    wireVideo(slot);
    pool.push(slot);
    return slot;
  }

  // Give `slot` to `card` (or to nothing). Moving the element keeps its hls.js instance.
  function assign(slot, card) {
    if (slot.card === card) return;
    const video = slot.video;
    if (slot.card) {
      finishView(slot.card);
      slot.card.classList.remove("has-video", "is-ready");
      delete slot.card._slot;
    }
    video.pause();
    video.classList.remove("is-ready");
    slot.card = card;
    slot.flowing = false;
    slot.lastTime = 0;
    if (!card) {
      stopLoading(slot);
      return;
    }
    card._slot = slot;
    card.classList.add("has-video");
    if (!net.slow) showPoster(card);
    card.querySelector(".card__media").appendChild(video);
    load(slot, card.dataset.hls);
  }

  function load(slot, src) {
    slot.src = src;
    slot.parsed = false;
    slot.estimateReset = false;
    slot.prefetchPending = false;
    slot.loading = baseline; // the baseline lets hls.js start loading by itself
    if (slot.hls) {
      slot.hls.stopLoad();
      slot.hls.config.maxBufferLength = prefetchSeconds();
      slot.hls.config.maxMaxBufferLength = baseline ? 60 : prefetchSeconds();
      slot.hls.loadSource(src);
    } else {
      slot.video.src = src;
      slot.video.load();
    }
  }

  function startLoading(slot) {
    if (slot.loading || !slot.parsed || !slot.src || !slot.hls) return;
    slot.hls.startLevel = startLevel(slot.hls, slot.video);
    slot.hls.startLoad(0);
    slot.loading = true;
    if (net.slow && slot.card !== active) {
      slot.prefetchPending = true;
      applyActiveBuffer();
    }
  }

  // On a slow link the active video holds at the headroom it has (4 s) while the next card fetches
  // its first segment, so that segment gets the whole link; then the active buffer grows again.
  function activeBufferTarget() {
    if (!net.slow) return ACTIVE_BUFFER_SECONDS;
    return pool.some((s) => s.prefetchPending && s.card && s.card !== active) ? 4 : 10;
  }
  function applyActiveBuffer() {
    const s = active && active._slot;
    if (s && s.hls) s.hls.config.maxBufferLength = activeBufferTarget();
  }

  // Prefetch must not take bandwidth (or CPU) from the video in view: it starts once the active
  // video has a little buffered ahead (2 s; 4 s on slow networks) or all of it.
  function activeHasHeadroom() {
    const slot = active && active._slot;
    if (!slot) return true;
    const v = slot.video;
    if (v.readyState < 3) return false;
    const b = v.buffered;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= v.currentTime + 0.1 && b.end(i) >= v.currentTime) {
        return b.end(i) - v.currentTime >= (net.slow ? 4 : 2) || (v.duration && b.end(i) >= v.duration - 0.1);
      }
    }
    return false;
  }
  function pumpPrefetch() {
    if (baseline || !activeHasHeadroom()) return;
    for (const s of pool) if (s.card && s.card !== active) startLoading(s);
  }
  if (!baseline) setInterval(pumpPrefetch, 1000);

  function stopLoading(slot) {
    if (slot.hls) slot.hls.stopLoad();
    else if (slot.video.getAttribute("src")) {
      slot.video.removeAttribute("src");
      slot.video.load();
    }
    slot.src = "";
    slot.loading = false;
    slot.parsed = false;
  }

  // Prefetch (paused, short buffer) or play (long buffer) the slot's card.
  function setRole(slot, role) {
    const { video, hls } = slot;
    if (hls) {
      if (role === "active") slot.prefetchPending = false;
      const len = role === "active" ? activeBufferTarget() : prefetchSeconds();
      hls.config.maxBufferLength = len;
      hls.config.maxMaxBufferLength = role === "active" ? 60 : prefetchSeconds();
      if (role === "active") startLoading(slot);
      else pumpPrefetch();
    }
    if (role === "active") {
      if (!document.hidden && !slot.card._userPaused) playSlot(slot);
    } else if (!video.paused) {
      video.pause();
    }
  }

  function playSlot(slot) {
    const video = slot.video;
    video.muted = !soundOn;
    const p = video.play();
    if (p && p.catch) {
      p.catch((err) => {
        if (err && err.name === "NotAllowedError" && !video.muted) {
          soundOn = false; // the browser wants a gesture first: play muted and offer the hint
          showSoundHint();
          video.muted = true;
          video.play().catch(() => {});
        }
      });
    }
  }

  function showPoster(card) {
    const img = card.querySelector(".card__poster[data-src]");
    if (img && !img.getAttribute("src")) img.src = img.dataset.src;
  }

  // --- active card --------------------------------------------------------------------------------
  let active = null;
  const isCard = (el) => el && el.classList && el.classList.contains("card") && el.dataset.hls;
  function nextCards(card, n) {
    const out = [];
    for (let el = card && card.nextElementSibling; el && out.length < n; el = el.nextElementSibling) {
      if (isCard(el)) out.push(el);
    }
    return out;
  }
  function prevCard(card) {
    for (let el = card && card.previousElementSibling; el; el = el.previousElementSibling) if (isCard(el)) return el;
    return null;
  }

  // Which cards hold a video, in priority order: active, next N, previous.
  function schedule(card) {
    if (!card) return;
    const want = [card, ...nextCards(card, prefetchDepth()), prevCard(card)];
    const wanted = want.filter(isCard).slice(0, poolSize);
    const free = pool.filter((s) => !s.card || !wanted.includes(s.card));
    for (const c of wanted) {
      if (c._slot) continue;
      const slot = free.shift();
      if (!slot) break;
      assign(slot, c);
    }
    // Slots nobody wants any more stop fetching at once (the user scrolled away from them).
    for (const s of free) if (s.card) assign(s, null);
    for (const c of wanted) if (c._slot) setRole(c._slot, c === card ? "active" : "prefetch");
  }

  function activate(card, when) {
    if (card === active) return;
    const previous = active;
    active = card;
    if (previous) {
      finishView(previous);
      previous._userPaused = false;
      previous.classList.remove("is-paused");
    }
    if (previous && previous._slot) previous._slot.video.pause();
    schedule(card);
    if (!isCard(card)) return; // the end card: everything pauses
    startView(card);
    watchFirstFrame(card, previous ? "swipe" : "first", when);
    if (previous && card.dataset.url && location.pathname !== card.dataset.url) {
      history.replaceState(history.state, "", card.dataset.url + location.search);
    }
    maybeLoadMore(card);
    requestPrune();
  }

  // First presented frame after activation: time to first frame for the first card, swipe-to-play
  // for later ones. requestVideoFrameCallback fires when a new frame reaches the compositor.
  function watchFirstFrame(card, kind, since) {
    const slot = card._slot;
    if (!slot) return;
    const video = slot.video;
    const done = (t) => {
      if (active !== card || slot.card !== card) return;
      if (kind === "first" && metrics.ttffMs === null) {
        metrics.ttffMs = Math.round(t);
        fillPool();
      }
      else if (kind === "swipe") metrics.swipes.push({ id: +card.dataset.videoId, startMs: Math.round(Math.max(0, t - since)) });
    };
    if (video.requestVideoFrameCallback) {
      video.requestVideoFrameCallback((now, meta) => done(meta && meta.presentationTime ? meta.presentationTime : now));
    } else {
      video.addEventListener("playing", () => done(performance.now()), { once: true });
    }
  }

  // A card sliding in starts decoding (muted, not yet "active") as soon as a sliver of it shows,
  // so when it reaches the centre its frames are already flowing. Backing out rewinds it.
  const approach = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const card = e.target;
      const slot = card._slot;
      if (!slot || card === active || baseline) continue;
      if (e.isIntersecting && !document.hidden && slot.video.readyState >= 2) {
        slot.video.muted = true;
        slot.video.play().catch(() => {});
      } else if (!e.isIntersecting && !slot.video.paused) {
        slot.video.pause();
        slot.video.currentTime = 0;
      }
    }
  }, { root: feed, threshold: 0.02 });

  const centre = new IntersectionObserver((entries) => {
    let hit = null;
    for (const e of entries) if (e.isIntersecting && e.target.classList.contains("card")) hit = e;
    if (hit) activate(hit.target, hit.time);
  }, { root: feed, rootMargin: "-50% 0px -50% 0px", threshold: 0 });

  // --- per-video wiring: readiness, stalls, progress, loops ---------------------------------------
  function wireVideo(slot) {
    const video = slot.video;
    let stallTimer = 0;
    let stallStart = 0;
    video.addEventListener("loadeddata", () => {
      video.classList.add("is-ready");
      if (slot.card) slot.card.classList.add("is-ready");
    });
    video.addEventListener("playing", () => {
      slot.flowing = true;
      endStall();
      if (slot.card === active) startProgress(slot);
    });
    video.addEventListener("pause", stopProgress);
    video.addEventListener("progress", () => { if (slot.card === active) pumpPrefetch(); });
    video.addEventListener("canplaythrough", () => { if (slot.card === active) pumpPrefetch(); });
    video.addEventListener("waiting", () => {
      // Only a stall if frames were flowing on the card in view (not the start, not a seek).
      if (slot.card !== active || !slot.flowing || video.seeking || stallStart) return;
      stallStart = performance.now();
      metrics.stalls += 1;
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => { if (stallStart && slot.card) slot.card.querySelector(".card__spinner").hidden = false; }, 400);
    });
    function endStall() {
      clearTimeout(stallTimer);
      if (stallStart) {
        metrics.stalledMs += Math.round(performance.now() - stallStart);
        stallStart = 0;
      }
      if (slot.card) slot.card.querySelector(".card__spinner").hidden = true;
    }
    // Watched time is played media time (so pauses, stalls and hidden tabs do not count).
    video.addEventListener("timeupdate", () => {
      const card = slot.card;
      const t = video.currentTime;
      const view = card && card._view;
      if (view && !video.paused) {
        const d = t - slot.lastTime;
        if (d < -0.5 && video.duration) { // looped
          view.loops += 1;
          view.completed = true;
          view.watched += (video.duration - slot.lastTime + t) * 1000;
        } else if (d > 0 && d < 1.5) {
          view.watched += d * 1000;
        }
        if (video.duration && t >= video.duration - 0.35) view.completed = true;
      }
      slot.lastTime = t;
    });
  }

  let raf = 0;
  function startProgress(slot) {
    cancelAnimationFrame(raf);
    const bar = slot.card.querySelector(".card__progress-bar");
    const tick = () => {
      const v = slot.video;
      if (v.paused || slot.card !== active) { raf = 0; return; }
      if (v.duration) bar.style.transform = "scaleX(" + (v.currentTime / v.duration).toFixed(4) + ")";
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
  }
  function stopProgress() {
    cancelAnimationFrame(raf);
    raf = 0;
  }

  // --- sound: muted autoplay until the first gesture, then sound stays on ---------------------------
  let soundOn = false;
  const hint = document.querySelector(".sound-hint");
  function showSoundHint() { if (hint) hint.hidden = soundOn; }
  function setSound(on) {
    soundOn = on;
    showSoundHint();
    if (active && active._slot) active._slot.video.muted = !on;
  }
  let gestured = false;
  function firstGesture(e) {
    if (gestured) return;
    gestured = true;
    if (e.type === "keydown" && (e.key === "m" || e.key === "M")) return; // m decides for itself
    setSound(true);
    if (e.type === "pointerdown" && e.target.closest(".card__media, .card__state")) e._unmutedOnly = true;
  }
  document.addEventListener("pointerdown", firstGesture, { capture: true });
  document.addEventListener("keydown", firstGesture, { capture: true });
  if (hint) {
    hint.addEventListener("click", () => setSound(true));
    showSoundHint();
  }

  // --- pause/resume: tap, space, hidden tab ---------------------------------------------------------
  function togglePause(card) {
    const slot = card && card._slot;
    if (!slot) return;
    if (slot.video.paused) {
      card._userPaused = false;
      card.classList.remove("is-paused"); // the play icon goes away as the video moves again
      playSlot(slot);
    } else {
      card._userPaused = true;
      card.classList.add("is-paused");
      slot.video.pause();
    }
  }
  let unmuteTap = false;
  feed.addEventListener("pointerdown", (e) => { unmuteTap = !!e._unmutedOnly; });
  feed.addEventListener("click", (e) => {
    const card = e.target.closest(".card");
    if (!card || e.target.closest("a, button, .card__actions")) return;
    if (unmuteTap) { unmuteTap = false; return; } // the first tap turns sound on, it does not pause
    if (card === active) togglePause(card);
  });

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      for (const s of pool) if (!s.video.paused) s.video.pause();
      if (active) finishView(active);
      flushWatch(true);
    } else if (active) {
      startView(active);
      if (active._slot && !active._userPaused) playSlot(active._slot);
    }
  });
  window.addEventListener("pagehide", () => {
    if (active) finishView(active);
    flushWatch(true);
  });

  // --- keyboard -----------------------------------------------------------------------------------
  function go(step) {
    if (!active) return;
    const target = step > 0 ? nextCards(active, 1)[0] || nextEnd(active) : prevCard(active);
    if (target) feed.scrollTo({ top: target.offsetTop, behavior: "smooth" });
  }
  function nextEnd(card) {
    const el = card.nextElementSibling;
    return el && el.classList.contains("card--end") ? el : null;
  }
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.target.closest && e.target.closest("input, textarea, select, [contenteditable]")) return;
    switch (e.key) {
      case "ArrowDown": case "j": case "PageDown": go(1); break;
      case "ArrowUp": case "k": case "PageUp": go(-1); break;
      case " ": case "Spacebar": if (e.target.closest && e.target.closest("button, a")) return; togglePause(active); break;
      case "m": case "M": setSound(!soundOn); break;
      default: return;
    }
    e.preventDefault();
  });

  // --- like and share -----------------------------------------------------------------------------
  const toast = (text) => {
    if (cs.live && cs.live.toast) return cs.live.toast(text);
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast";
    el.textContent = text;
    box.appendChild(el);
    setTimeout(() => el.remove(), 3000);
  };
  feed.addEventListener("click", (e) => {
    const like = e.target.closest(".action--like");
    const share = e.target.closest(".action--share");
    const card = e.target.closest(".card");
    if (like) {
      if (feed.dataset.auth !== "1") {
        location.href = feed.dataset.loginUrl + "?next=" + encodeURIComponent(card.dataset.url);
        return;
      }
      like.disabled = true;
      fetch(like.dataset.likeUrl, { method: "POST", headers: { "X-CSRFToken": feed.dataset.csrf }, credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
        .then((d) => {
          like.classList.toggle("is-liked", d.liked);
          like.setAttribute("aria-pressed", d.liked ? "true" : "false");
          like.querySelector(".action__count").textContent = d.likes;
        })
        .catch(() => toast("Could not like right now."))
        .finally(() => { like.disabled = false; });
    } else if (share) {
      const url = location.origin + card.dataset.url;
      const done = () => toast("Link copied");
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(url).then(done, () => toast(url));
      else toast(url);
    }
  });

  // --- infinite feed: HTMX pages, dedupe, bounded DOM ---------------------------------------------
  const seen = new Set();
  function adopt(root) {
    root.querySelectorAll(".card[data-video-id]").forEach((card) => {
      if (card._adopted) return;
      const id = card.dataset.videoId;
      if (seen.has(id)) { card.remove(); return; } // never show a video twice
      seen.add(id);
      card._adopted = true;
      centre.observe(card);
      approach.observe(card);
    });
    // The end card is a stop too: reaching it pauses the last video.
    root.querySelectorAll(".card--end").forEach((card) => {
      if (!card._adopted) { card._adopted = true; centre.observe(card); }
    });
  }
  let domReady = document.readyState !== "loading";
  function maybeLoadMore(card) {
    const more = domReady && feed.querySelector(".feed-more");
    if (!more || more._requested || !window.htmx) return;
    if (nextCards(card, LOAD_MORE_AHEAD).length < LOAD_MORE_AHEAD) {
      more._requested = true;
      window.htmx.trigger(more, "load-more");
    }
  }
  document.body.addEventListener("htmx:afterSettle", () => {
    adopt(feed);
    if (active) { schedule(active); maybeLoadMore(active); }
  });
  document.body.addEventListener("htmx:responseError", (e) => {
    const more = e.detail && e.detail.elt;
    if (more && more.classList.contains("feed-more")) setTimeout(() => { more._requested = false; if (active) maybeLoadMore(active); }, 3000);
  });

  // Cards far above become one spacer of the same height, so the scroll position does not move and
  // an hour of scrolling holds a bounded number of nodes. Done when scrolling rests.
  let spacer = null;
  let spaced = 0;
  let pruneWanted = false;
  // Normally when scrolling rests; a viewer flicking on without a pause still gets pruned once more
  // than a screenful of extra cards piles up (the spacer keeps the scroll offset exact either way).
  function requestPrune() {
    pruneWanted = true;
    let above = 0;
    for (let el = active && active.previousElementSibling; el; el = el.previousElementSibling) above += 1;
    if (above > KEEP_ABOVE + 6) requestAnimationFrame(prune);
  }
  function prune() {
    if (!pruneWanted || !active) return;
    pruneWanted = false;
    const above = [];
    for (let el = active.previousElementSibling; el; el = el.previousElementSibling) if (el.classList.contains("card")) above.push(el);
    const drop = above.slice(KEEP_ABOVE);
    if (!drop.length) return;
    if (!spacer) {
      spacer = document.createElement("div");
      spacer.className = "feed-spacer";
      spacer.setAttribute("aria-hidden", "true");
      feed.insertBefore(spacer, feed.firstElementChild);
    }
    for (const c of drop) {
      centre.unobserve(c);
      approach.unobserve(c);
      if (c._slot) assign(c._slot, null);
      c.remove();
    }
    spaced += drop.length;
    spacer.style.height = "calc(" + spaced + " * var(--card-h))";
  }
  if ("onscrollend" in window) feed.addEventListener("scrollend", prune);
  else setInterval(prune, 1500);

  // --- watch events, batched to the server ----------------------------------------------------------
  const queue = [];
  function startView(card) {
    card._view = { started: performance.now(), watched: 0, loops: 0, completed: false };
    if (card._slot) card._slot.lastTime = card._slot.video.currentTime;
  }
  function finishView(card) {
    const v = card._view;
    if (!v) return;
    card._view = null;
    const ms = Math.round(v.watched);
    const onCard = performance.now() - v.started;
    queue.push({ id: +card.dataset.videoId, watchedMs: ms, completed: v.completed, loops: v.loops, skipped: onCard < 2000 && !v.completed });
    if (queue.length >= 50) flushWatch(false);
  }
  function flushWatch(final) {
    if (!queue.length) return;
    const body = JSON.stringify({ events: queue.splice(0, 50) });
    const url = feed.dataset.watchUrl;
    const blob = new Blob([body], { type: "application/json" });
    if (!(navigator.sendBeacon && navigator.sendBeacon(url, blob)) && !final) {
      fetch(url, { method: "POST", body, keepalive: true, headers: { "Content-Type": "application/json" } }).catch(() => {});
    }
  }
  setInterval(() => flushWatch(false), 10000);
  cs.feed = { pool, flushWatch, get active() { return active; }, net, poolSize, baseline };

  // --- start --------------------------------------------------------------------------------------
  // One video (and one hls.js worker) first; the rest of the pool once the first frame is up, so
  // they take no CPU from it. A page whose first video fails still gets its pool.
  makeSlot();
  function fillPool() {
    if (pool.length >= poolSize) return;
    while (pool.length < poolSize) makeSlot();
    if (active) schedule(active);
  }
  setTimeout(fillPool, 3000);
  adopt(feed);
  // The first card is active before the observer's first report: no frame lost waiting for it.
  const first = feed.querySelector(".card");
  if (first) activate(first, 0);
  // htmx wires hx-* attributes on DOMContentLoaded (right after deferred scripts): ask for more then.
  const kick = () => {
    domReady = true;
    if (active) maybeLoadMore(active);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", kick);
  else kick();
})();
