/* Clipstream upload page. The form works without this file (plain multipart POST); with it:
   - checks the file before sending (type, size, duration read from a <video>'s metadata),
   - drag and drop,
   - sends with tus (resumable: an interrupted upload continues where it stopped) or, when the
     site stores media in S3, straight to the bucket with presigned multipart URLs,
   - then follows processing on the websocket (topic upload:<video id>), no polling. */
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = form.querySelector("input[type=file][name=file]");
  const drop = document.getElementById("upload-drop");
  const fileName = document.getElementById("upload-file-name");
  const message = document.getElementById("upload-message");
  const submit = document.getElementById("upload-submit");
  const cancel = document.getElementById("upload-cancel");
  const barBox = document.getElementById("upload-progress-box");
  const bar = document.getElementById("upload-progress");
  const barText = document.getElementById("upload-progress-text");
  const status = document.getElementById("upload-status");
  const statusText = document.getElementById("status-text");
  const statusBar = document.getElementById("status-progress");
  const statusDetail = document.getElementById("status-detail");
  const statusLink = document.getElementById("status-link");
  const preview = document.getElementById("upload-preview");
  const poster = document.getElementById("upload-poster");

  const maxBytes = Number(form.dataset.maxBytes);
  const maxSeconds = Number(form.dataset.maxSeconds);
  const minSeconds = Number(form.dataset.minSeconds);
  const TYPES = ["video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/x-m4v"];
  const EXTENSIONS = /\.(mp4|m4v|mov|webm|mkv)$/i;
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  let checked = null; // {file, ok}
  let current = null; // the running tus upload (or S3 abort controller)

  function say(text) {
    message.textContent = text || "";
    message.hidden = !text;
  }

  function mb(bytes) { return (bytes / (1024 * 1024)).toFixed(1) + " MB"; }

  // --- checks before sending (the server applies the same ones) --------------------------------
  function readDuration(file) {
    return new Promise((resolve) => {
      const v = document.createElement("video");
      const url = URL.createObjectURL(file);
      const done = (value) => { URL.revokeObjectURL(url); v.removeAttribute("src"); resolve(value); };
      const timer = setTimeout(() => done(null), 8000);
      v.preload = "metadata";
      v.muted = true;
      v.onloadedmetadata = () => { clearTimeout(timer); done(v.duration); };
      v.onerror = () => { clearTimeout(timer); done(null); };
      v.src = url;
    });
  }

  async function check(file) {
    if (!file) return "Choose a video file to upload.";
    if (file.size === 0) return "The file is empty.";
    const typeOk = TYPES.includes(file.type) || (!file.type && EXTENSIONS.test(file.name)) || EXTENSIONS.test(file.name);
    if (!typeOk || (file.type && !file.type.startsWith("video/"))) {
      return "This is not a video file we can read. Upload an MP4, MOV, WebM or MKV file.";
    }
    if (file.size > maxBytes) return `The file is ${mb(file.size)}; the limit is ${mb(maxBytes)}.`;
    const duration = await readDuration(file);
    // null: this browser cannot decode the file (e.g. HEVC); the server will probe it.
    if (duration !== null && isFinite(duration)) {
      if (duration > maxSeconds + 0.5) {
        return `The video is ${Math.round(duration)} s long; the limit is ${maxSeconds} s. Trim it and try again.`;
      }
      if (duration < minSeconds) return `The video is too short: at least ${minSeconds} s.`;
    }
    return "";
  }

  async function choose(file) {
    fileName.textContent = file ? `${file.name} · ${mb(file.size)}` : "No file chosen";
    say("");
    checked = null;
    if (!file) return;
    submit.disabled = true;
    const problem = await check(file);
    submit.disabled = false;
    checked = { file, ok: !problem };
    say(problem);
  }

  input.addEventListener("change", () => choose(input.files[0]));
  ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add("drop--over");
  }));
  ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("drop--over")));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const files = e.dataTransfer && e.dataTransfer.files;
    if (!files || !files.length) return;
    input.files = files; // keeps the no-JS submit path consistent with what is shown
    choose(files[0]);
  });

  // --- sending ------------------------------------------------------------------------------------
  function fields() {
    const data = new FormData(form);
    const meta = {};
    ["caption", "visibility", "trim_start", "trim_end", "cover_time"].forEach((k) => {
      const value = (data.get(k) || "").toString();
      if (value !== "") meta[k] = value;
    });
    return meta;
  }

  function showBytes(sent, total) {
    const pct = total ? (sent / total) * 100 : 0;
    bar.value = pct;
    barText.textContent = `${Math.floor(pct)}% · ${mb(sent)} of ${mb(total)}`;
  }

  function busy(on) {
    submit.disabled = on;
    cancel.hidden = !on;
    barBox.hidden = !on;
    form.classList.toggle("is-busy", on);
  }

  function viaTus(file, meta) {
    return new Promise((resolve, reject) => {
      const upload = new tus.Upload(file, {
        endpoint: form.dataset.tusEndpoint,
        chunkSize: 5 * 1024 * 1024, // an interruption costs at most one chunk
        retryDelays: [0, 1000, 3000, 5000, 10000],
        headers: { "X-CSRFToken": csrf },
        metadata: { filename: file.name, filetype: file.type, ...meta },
        removeFingerprintOnSuccess: true,
        // Retry network trouble and server hiccups; a 4xx answer is a decision, show it.
        onShouldRetry: (err) => {
          const res = err.originalResponse;
          const code = res ? res.getStatus() : 0;
          return !res || code >= 500 || code === 423 || (code === 409 && /Upload-Offset/.test(res.getBody()));
        },
        onProgress: showBytes,
        onError: (err) => {
          const res = err.originalResponse;
          reject(new Error(res && res.getBody() ? res.getBody() : "The upload was interrupted. Try again to resume it."));
        },
        onSuccess: ({ lastResponse }) => {
          const id = lastResponse && lastResponse.getHeader("Clipstream-Video-Id");
          if (id) resolve(id);
          else reject(new Error("The upload finished but the server did not answer; reload the page."));
        },
      });
      current = { abort: () => upload.abort(true) };
      // Resume a previous attempt of the same file (tus keeps its URL in localStorage).
      upload.findPreviousUploads().then((previous) => {
        if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
        upload.start();
      });
    });
  }

  async function postJSON(url, body, method) {
    const res = await fetch(url, {
      method: method || "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || `The server answered ${res.status}.`);
    return data;
  }

  function putPart(url, blob, onBytes) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.upload.onprogress = (e) => onBytes(e.loaded);
      xhr.onload = () => (xhr.status < 300 ? resolve(xhr.getResponseHeader("ETag")) : reject(new Error("Storage refused a part.")));
      xhr.onerror = () => reject(new Error("The upload was interrupted. Try again."));
      current = { abort: () => xhr.abort() };
      xhr.send(blob);
    });
  }

  async function viaS3(file, meta) {
    const base = form.dataset.s3Endpoint;
    const plan = await postJSON(base, { filename: file.name, size: file.size, metadata: meta });
    const parts = [];
    let done = 0;
    for (const part of plan.parts) {
      const start = (part.number - 1) * plan.part_size;
      const blob = file.slice(start, start + plan.part_size);
      const etag = await putPart(part.url, blob, (n) => showBytes(done + n, file.size));
      done += blob.size;
      parts.push({ number: part.number, etag });
    }
    const result = await postJSON(`${base}${plan.upload_id}/`, { parts });
    return String(result.video_id);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = input.files[0];
    if (!checked || checked.file !== file) await choose(file);
    if (!file || !checked.ok) {
      if (!file) say("Choose a video file to upload.");
      return;
    }
    say("");
    busy(true);
    showBytes(0, file.size);
    try {
      const send = form.dataset.s3Endpoint ? viaS3 : viaTus;
      const videoId = await send(file, fields());
      busy(false);
      form.reset();
      fileName.textContent = "No file chosen";
      checked = null;
      follow(videoId);
    } catch (err) {
      busy(false);
      say(err.message);
    }
  });

  cancel.addEventListener("click", () => {
    if (current) current.abort();
    busy(false);
    say("Upload cancelled.");
  });

  // --- processing progress over the websocket ------------------------------------------------------
  let hls = null;
  let following = null;

  function playPreview(url) {
    if (preview.dataset.src === url) return;
    preview.dataset.src = url;
    preview.hidden = false;
    poster.hidden = true;
    if (window.Hls && window.Hls.isSupported()) {
      if (hls) hls.destroy();
      hls = new window.Hls({ maxBufferLength: 10 });
      hls.loadSource(url);
      hls.attachMedia(preview);
    } else if (preview.canPlayType("application/vnd.apple.mpegurl")) {
      preview.src = url;
    }
    preview.play().catch(() => {});
  }

  function eta(seconds) {
    if (seconds === null || seconds === undefined) return "";
    return seconds < 60 ? ` · about ${Math.max(1, Math.round(seconds))} s left` : ` · about ${Math.round(seconds / 60)} min left`;
  }

  const STAGES = { uploaded: "Waiting for a transcoder", queued: "Waiting for a transcoder", probing: "Checking the video",
    transcoding: "Transcoding", storing: "Publishing" };

  function render(msg) {
    if (msg.status === "error") return; // not ours / gone: keep what the page shows
    status.hidden = false;
    status.dataset.status = msg.status;
    const pct = Math.max(0, Math.min(100, Number(msg.progress) || 0));
    statusBar.value = msg.status === "ready" ? 100 : pct;
    statusLink.hidden = msg.status !== "ready";
    if (msg.status === "ready") {
      statusText.textContent = "Ready";
      statusDetail.textContent = "Your video is live.";
      if (msg.url) statusLink.href = msg.url;
    } else if (msg.status === "failed") {
      statusText.textContent = "Processing failed";
      statusDetail.textContent = msg.message || "The video could not be processed.";
    } else {
      statusText.textContent = STAGES[msg.stage] || msg.message || "Processing";
      statusDetail.textContent = `${Math.floor(pct)}%${eta(msg.eta_s)}`;
    }
    if (msg.poster_url && preview.hidden) {
      poster.src = msg.poster_url;
      poster.hidden = false;
    }
    if (msg.preview_url) playPreview(msg.preview_url);
  }

  function follow(videoId) {
    if (following) following();
    const url = new URL(location.href);
    url.searchParams.set("video", videoId);
    history.replaceState(null, "", url);
    render({ status: "uploaded", stage: "queued", progress: 0 });
    following = window.clipstream.live.subscribe(`upload:${videoId}`, render);
  }

  // A reload (?video=<id>) rendered the snapshot server-side; keep following unless it is final.
  if (form.dataset.videoId && !["ready", "failed"].includes(form.dataset.stateStatus)) {
    following = window.clipstream.live.subscribe(`upload:${form.dataset.videoId}`, render);
  }
})();
