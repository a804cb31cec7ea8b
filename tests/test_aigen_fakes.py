"""Local stand-ins for the provider APIs (the real ones are off this machine).

`FakeOpenAI` speaks the Videos API contract the `openai` SDK uses (POST /v1/videos multipart,
GET /v1/videos/{id}, POST /v1/videos/{id}/remix, GET /v1/videos/{id}/content?variant=...);
`FakeVeo` speaks Vertex's long-running predict (`:predictLongRunning`, `:fetchPredictOperation`)
as `google-genai` calls it. Both record every request and can be told to misbehave: 429 with
Retry-After, 500s, refusals. No tests here: the test modules import these.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from uploads.ffbin import ffmpeg_path


def tagged_copy(clip: Path, tag: str) -> bytes:
    """The clip's bytes with `tag` in its metadata: distinct files per provider job."""
    out = clip.with_name(f"{clip.stem}-{tag.replace('/', '_')}.mp4")
    if not out.exists():
        subprocess.run(
            [ffmpeg_path(), "-loglevel", "error", "-y", "-i", str(clip), "-c", "copy",
             "-metadata", f"comment={tag}", str(out)],
            check=True, timeout=60,
        )  # fmt: skip
    return out.read_bytes()


class _Server:
    def __init__(self, clip: Path):
        self.clip = clip
        self.requests: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()
        self.errors: list[tuple[int, dict, dict]] = []  # (status, headers, body) answered next, in order
        self.polls_to_complete = 2
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer.lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    outer.requests.append((self.command, self.path, headers))
                    error = outer.errors.pop(0) if outer.errors else None
                if error:
                    status, headers, payload = error
                    return self.reply(status, payload, headers)
                status, payload, ctype = outer.route(self.command, self.path, headers, body)
                self.reply(status, payload, {}, ctype)

            do_GET = do_POST = _any

            def reply(self, status, payload, headers, ctype="application/json"):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.split("?")[0].startswith(path_prefix))


class FakeOpenAI(_Server):
    """Videos: queued → in_progress (progress 40, 80) → completed, one step per retrieve."""

    def __init__(self, clip: Path):
        super().__init__(clip)
        self.videos: dict[str, dict] = {}
        self.by_key: dict[str, str] = {}
        self.lose_create_answers = 0  # create the video, then answer 500: the client never hears of it

    def _video(self, prompt, model="sora-2", seconds="4", size="720x1280", remixed_from=None):
        vid = f"video_{len(self.videos) + 1:04d}"
        self.videos[vid] = {
            "id": vid, "object": "video", "created_at": int(time.time()), "model": model, "prompt": prompt,
            "seconds": seconds, "size": size, "status": "queued", "progress": 0, "polls": 0,
            "remixed_from_video_id": remixed_from, "error": None,
        }  # fmt: skip
        return self.videos[vid]

    @staticmethod
    def public(v: dict) -> dict:
        return {k: val for k, val in v.items() if k != "polls"}

    def route(self, method, path, headers, body):
        url = urlparse(path)
        parts = url.path.strip("/").split("/")  # v1 videos [id] [remix|content]
        if method == "POST" and parts == ["v1", "videos"]:
            fields = _multipart(headers.get("content-type", ""), body)
            key = headers.get("idempotency-key")
            if key and key in self.by_key:  # same key, same job: like the real API
                return 200, self.public(self.videos[self.by_key[key]]), "application/json"
            if fields.get("size") == "1792x1024" and fields.get("model") == "sora-2":
                err = {"message": "Invalid size for sora-2", "type": "invalid_request_error", "code": "invalid_size"}
                return 400, {"error": err}, "application/json"
            v = self._video(fields["prompt"], fields.get("model"), fields.get("seconds"), fields.get("size"))
            if key:
                self.by_key[key] = v["id"]
            if self.lose_create_answers:
                self.lose_create_answers -= 1
                return 500, {"error": {"message": "upstream connection reset"}}, "application/json"
            return 200, self.public(v), "application/json"
        if len(parts) < 3 or parts[2] not in self.videos:
            return 404, {"error": {"message": "No such video", "code": "not_found"}}, "application/json"
        v = self.videos[parts[2]]
        if method == "POST" and parts[3:] == ["remix"]:
            key = headers.get("idempotency-key")
            if key and key in self.by_key:
                return 200, self.public(self.videos[self.by_key[key]]), "application/json"
            r = self._video(json.loads(body)["prompt"], v["model"], v["seconds"], v["size"], remixed_from=v["id"])
            if key:
                self.by_key[key] = r["id"]
            return 200, self.public(r), "application/json"
        if method == "GET" and len(parts) == 3:
            self._advance(v)
            return 200, self.public(v), "application/json"
        if method == "GET" and parts[3:] == ["content"]:
            variant = parse_qs(url.query).get("variant", ["video"])[0]
            if v["status"] != "completed":
                return 404, {"error": {"message": "not ready", "code": "not_found"}}, "application/json"
            if variant == "thumbnail":
                return 200, b"RIFF\x1a\x00\x00\x00WEBPVP8 fake-thumbnail", "image/webp"
            return 200, tagged_copy(self.clip, v["id"]), "video/mp4"
        return 404, {"error": {"message": "unknown route"}}, "application/json"

    def _advance(self, v: dict) -> None:
        if v["status"] in ("completed", "failed"):
            return
        v["polls"] += 1
        if "forbidden" in (v["prompt"] or ""):
            v.update(status="failed", error={"code": "moderation_blocked", "message": "Blocked by moderation."})
        elif v["polls"] >= self.polls_to_complete + 1:
            v.update(status="completed", progress=100, completed_at=int(time.time()))
        else:
            v.update(status="in_progress", progress=min(95, 40 * v["polls"]))


class FakeVeo(_Server):
    """Vertex predictLongRunning: an operation, not done for `polls_to_complete` fetches."""

    def __init__(self, clip: Path):
        super().__init__(clip)
        self.ops: dict[str, dict] = {}

    def route(self, method, path, headers, body):
        data = json.loads(body or b"{}")
        if path.endswith(":predictLongRunning"):
            model = path.split("/models/")[1].split(":")[0]
            name = f"projects/p/locations/us-central1/publishers/google/models/{model}/operations/op{len(self.ops) + 1}"
            self.ops[name] = {"prompt": data["instances"][0]["prompt"], "params": data["parameters"], "polls": 0}
            return 200, {"name": name}, "application/json"
        if path.endswith(":fetchPredictOperation"):
            op = self.ops.get(data["operationName"])
            if op is None:
                missing = {"error": {"code": 404, "message": "no operation", "status": "NOT_FOUND"}}
                return 404, missing, "application/json"
            op["polls"] += 1
            if op["polls"] <= self.polls_to_complete:
                return 200, {"name": data["operationName"]}, "application/json"
            if "forbidden" in op["prompt"]:
                response = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["Unsafe content."]}
            else:
                clip = base64.b64encode(tagged_copy(self.clip, data["operationName"][-8:])).decode()
                response = {"videos": [{"bytesBase64Encoded": clip, "mimeType": "video/mp4"}]}
            return 200, {"name": data["operationName"], "done": True, "response": response}, "application/json"
        return 404, {"error": {"code": 404, "message": "unknown", "status": "NOT_FOUND"}}, "application/json"


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    msg = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    return {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True).decode()
        for part in msg.get_payload()
    }
