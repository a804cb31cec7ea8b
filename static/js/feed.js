/* Clipstream feed: first version — plays the card in view with hls.js, loads more by HTMX.
   (The player pool, prefetch and metrics build on this.) */
(function () {
  "use strict";
  const feed = document.getElementById("feed");
  if (!feed) return;
  const video = document.createElement("video");
  video.muted = true; video.loop = true; video.playsInline = true; video.setAttribute("playsinline", "");
  let hls = null;
  let active = null;
  const metrics = { ttffMs: null, swipes: [], stalls: 0, stalledMs: 0 };
  window.clipstream = { metrics };

  function play(card) {
    if (active === card) return;
    active = card;
    card.querySelector(".card__media").appendChild(video);
    const src = card.dataset.hls;
    if (window.Hls && Hls.isSupported()) {
      if (!hls) { hls = new Hls({ capLevelToPlayerSize: true }); hls.attachMedia(video); }
      hls.loadSource(src);
    } else {
      video.src = src;
    }
    video.play().catch(() => {});
    const next = card.nextElementSibling;
    if (next && next.classList.contains("feed-more")) htmx.trigger(next, "load-more");
  }

  const io = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting && e.intersectionRatio > 0.6 && e.target.dataset.hls) play(e.target);
  }, { root: feed, threshold: [0.6] });
  const observe = (root) => root.querySelectorAll(".card[data-hls]").forEach((c) => io.observe(c));
  observe(feed);
  document.body.addEventListener("htmx:afterSwap", () => observe(feed));
  video.addEventListener("playing", () => { if (metrics.ttffMs === null) metrics.ttffMs = performance.now(); });
})();
