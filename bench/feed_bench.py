"""Feed player benchmark (not a test): headless Chromium against a real stack with the demo clips.

    .venv/bin/python bench/feed_bench.py                 # own database cs_bench, own daphne, seeds if empty
    .venv/bin/python bench/feed_bench.py --url http://127.0.0.1:8021   # a stack that is already running

Measures, for the pool player and a baseline (`?pool=0`: one video loaded on arrival, no prefetch,
hls.js defaults), unthrottled and on a 3G profile (CDP Network.emulateNetworkConditions):
  - time to first frame of the first video (navigation start -> first presented frame, rVFC),
    over --loads page loads with an empty cache;
  - swipe-to-play (next card covers the viewport centre -> its first presented frame) over
    --swipes swipes with --dwell seconds of watching between swipes;
  - stalls per minute of playback;
and then <video> elements, DOM nodes and JS heap after 10 and after --long swipes.
Figures come from window.clipstream.metrics, which the player fills itself.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
# ~1.6 Mbit/s down, ~750 kbit/s up, 300 ms RTT (Chrome DevTools' "Fast 3G"-like profile).
PROFILES = {
    "unthrottled": None,
    "3g": {"offline": False, "latency": 300, "downloadThroughput": 1_600_000 / 8, "uploadThroughput": 750_000 / 8},
}
MODES = {"pool": "", "baseline": "?pool=0"}


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def fmt(v: float | None, unit: str = "ms") -> str:
    if v is None:
        return "–"
    return f"{v / 1000:.2f} s" if unit == "ms" and v >= 1000 else f"{v:.0f} {unit}"


# --- the stack ---------------------------------------------------------------------------------------


def bench_env(args) -> dict:
    var = ROOT / "var" / "bench"
    return {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "VAR_DIR": str(var),
        "MEDIA_ROOT": str(var / "media"),
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    }


def prepare_database(args, env: dict) -> None:
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "seed_demo", "--count", "12", "--if-empty"], cwd=ROOT, env=env, check=True)
    # Enough cards for --long swipes: extra rows that reuse the demo clips' HLS files.
    code = f"""
from datetime import timedelta
from feed.models import Video
real = list(Video.objects.playable().exclude(source_name__startswith="bench-clone").order_by("-published_at"))
assert real, "no ready demo videos"
have = Video.objects.filter(source_name__startswith="bench-clone").count()
oldest = min(v.published_at for v in real)
keep = ("owner_id", "caption", "duration", "width", "height", "poster", "placeholder", "hls_master", "status",
        "visibility", "moderation", "source_kind", "has_audio")
rows = []
for n in range(have, {args.long + 40} - len(real)):
    src = real[n % len(real)]
    rows.append(Video(source_name=f"bench-clone-{{n}}", published_at=oldest - timedelta(minutes=n + 1),
                      **{{k: getattr(src, k) for k in keep}}))
Video.objects.bulk_create(rows)
print(f"{{len(real)}} demo videos, {{have + len(rows)}} clone rows")
"""
    subprocess.run([py, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True)


def free_port(start: int) -> int:
    """The first port from `start` nobody listens on (other people's stacks share this machine)."""
    for port in range(start, start + 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port from {start}")


def compressed_static_tree(env: dict) -> Path:
    """A copy of this checkout serving collectstatic's gzip files, as production does.

    config/settings.py sets WHITENOISE_USE_FINDERS = True, which makes WhiteNoise serve the
    uncompressed source files even after collectstatic; the copy turns finders off.
    """
    tree = ROOT / "var" / "bench" / "tree"
    subprocess.run(["rm", "-rf", str(tree)], check=True)
    tree.mkdir(parents=True)
    skip = ["--exclude=./.git", "--exclude=./.venv", "--exclude=./var", "--exclude=./staticfiles"]
    pack = subprocess.Popen(["tar", *skip, "-cf", "-", "."], cwd=ROOT, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-xf", "-", "-C", str(tree)], stdin=pack.stdout, check=True)
    pack.wait()
    (tree / "bench_settings.py").write_text("from config.settings import *  # noqa\nWHITENOISE_USE_FINDERS = False\n")
    env["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=tree, env=env, check=True)
    return tree


def start_stack(args, env: dict, cwd: Path = ROOT) -> subprocess.Popen:
    log = open(ROOT / "var" / "bench" / "daphne.log", "w")  # noqa: SIM115 (lives as long as daphne)
    daphne = str(Path(sys.executable).parent / "daphne")
    cmd = [daphne, "-b", "127.0.0.1", "-p", str(args.port), "config.asgi:application"]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("daphne did not start; see var/bench/daphne.log")


# --- the browser side ----------------------------------------------------------------------------------

METRICS = "() => window.clipstream && window.clipstream.metrics"
COUNTS = """() => ({videos: document.querySelectorAll('video').length,
  nodes: document.getElementsByTagName('*').length,
  cards: document.querySelectorAll('.card').length})"""


def open_page(browser, url: str, profile: str):
    context = browser.new_context(viewport={"width": 412, "height": 800})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if PROFILES[profile]:
        cdp.send("Network.emulateNetworkConditions", PROFILES[profile])
    page.goto(url, wait_until="commit")
    return context, page, cdp


def wait_for(page, js: str, timeout: float) -> bool:
    try:
        page.wait_for_function(js, timeout=timeout * 1000, polling=50)
        return True
    except Exception:  # playwright's TimeoutError
        return False


def measure_ttff(browser, base: str, mode: str, profile: str, loads: int) -> list[float]:
    out = []
    for _ in range(loads):
        context, page, _ = open_page(browser, base + "/" + MODES[mode], profile)
        if wait_for(page, "() => window.clipstream && window.clipstream.metrics.ttffMs !== null", 30):
            out.append(page.evaluate(METRICS)["ttffMs"])
        context.close()
    return out


def measure_swipes(browser, base: str, mode: str, profile: str, swipes: int, dwell: float) -> dict:
    context, page, _ = open_page(browser, base + "/" + MODES[mode], profile)
    wait_for(page, "() => window.clipstream && window.clipstream.metrics.ttffMs !== null", 30)
    started = time.monotonic()
    missed = 0
    for i in range(swipes):
        page.wait_for_timeout(dwell * 1000)
        page.keyboard.press("ArrowDown")
        if not wait_for(page, f"() => window.clipstream.metrics.swipes.length >= {i + 1 - missed}", 20):
            missed += 1
    page.wait_for_timeout(dwell * 1000)
    m = page.evaluate(METRICS)
    minutes = (time.monotonic() - started) / 60
    info = page.evaluate(
        "() => ({net: window.clipstream.feed.net, ect: navigator.connection && navigator.connection.effectiveType})"
    )
    context.close()
    return {"swipes": [s["startMs"] for s in m["swipes"]], "missed": missed, "stalls": m["stalls"],
            "stalledMs": m["stalledMs"], "minutes": minutes, "net": info}  # fmt: skip


def heap(cdp) -> float:
    cdp.send("HeapProfiler.collectGarbage")
    return cdp.send("Runtime.getHeapUsage")["usedSize"]


def measure_memory(browser, base: str, long: int) -> dict:
    context, page, cdp = open_page(browser, base + "/", "unthrottled")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})  # 200 swipes: let segments cache
    wait_for(page, "() => window.clipstream && window.clipstream.metrics.ttffMs !== null", 30)
    peak_videos = 0
    snap = {}
    for i in range(1, long + 1):
        page.keyboard.press("ArrowDown")
        wait_for(page, f"() => window.clipstream.metrics.swipes.length >= {i}", 10)
        page.wait_for_timeout(150)
        counts = page.evaluate(COUNTS)
        peak_videos = max(peak_videos, counts["videos"])
        if i == 10 or i % 50 == 0 or i == long:
            page.wait_for_timeout(1000)  # scrolling at rest, as a viewer watching this card
            counts = page.evaluate(COUNTS)
            snap[i] = {**counts, "heap": heap(cdp), "peak_videos": max(peak_videos, counts["videos"])}
    snap["swiped"] = page.evaluate("() => window.clipstream.metrics.swipes.length")
    context.close()
    return snap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="use a running stack instead of starting one")
    ap.add_argument("--port", type=int, default=8041, help="first port to try for our own daphne")
    ap.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/cs_bench")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    ap.add_argument("--loads", type=int, default=10, help="page loads per config for time to first frame")
    ap.add_argument("--swipes", type=int, default=24)
    ap.add_argument("--dwell", type=float, default=3.0, help="seconds watched before each swipe")
    ap.add_argument("--long", type=int, default=200, help="swipes for the memory run")
    ap.add_argument("--modes", default="pool,baseline")
    ap.add_argument("--profiles", default="unthrottled,3g")
    ap.add_argument(
        "--static",
        choices=["as-configured", "compressed"],
        default="as-configured",
        help="compressed: serve collectstatic's gzip files from a copy of the tree (see compressed_static_tree)",
    )
    args = ap.parse_args()

    proc = None
    if not args.url:
        env = bench_env(args)
        prepare_database(args, env)
        args.port = free_port(args.port)
        cwd = compressed_static_tree(env) if args.static == "compressed" else ROOT
        proc = start_stack(args, env, cwd)
        args.url = f"http://127.0.0.1:{args.port}"
    from playwright.sync_api import sync_playwright

    results = {"load_before": os.getloadavg(), "runs": [], "static": args.static}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for profile in args.profiles.split(","):
                for mode in args.modes.split(","):
                    t0 = time.monotonic()
                    ttff = measure_ttff(browser, args.url, mode, profile, args.loads)
                    sw = measure_swipes(browser, args.url, mode, profile, args.swipes, args.dwell)
                    run = {"mode": mode, "profile": profile, "ttff": ttff, **sw, "load": os.getloadavg(),
                           "seconds": time.monotonic() - t0}  # fmt: skip
                    results["runs"].append(run)
                    print(f"  {profile:<11} {mode:<8} ttff {fmt(statistics.median(ttff) if ttff else None)}  "
                          f"swipe {fmt(statistics.median(sw['swipes']) if sw['swipes'] else None)}  "
                          f"stalls {sw['stalls']}  load {run['load'][0]:.1f}  net {sw['net']}", flush=True)  # fmt: skip
            if args.long:
                results["memory"] = measure_memory(browser, args.url, args.long)
            browser.close()
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
    results["load_after"] = os.getloadavg()
    out = ROOT / "var" / "bench" / f"feed_bench-{args.static}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    report(results, args)


def report(results: dict, args) -> None:
    print()
    print(f"Feed benchmark — {args.swipes} swipes ({args.dwell:g} s watched before each), {args.loads} page loads "
          f"for first frame, 412x800 headless Chromium, cache disabled, static files {args.static}")  # fmt: skip
    print()
    print("| network | player | first frame median | p95 | swipe-to-play median | p95 | swipes | stalls/min | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results["runs"]:
        stalls_min = r["stalls"] / r["minutes"] if r["minutes"] else 0
        n = f"{len(r['swipes'])}" + (f" ({r['missed']} no frame in 20 s)" if r["missed"] else "")
        print(f"| {r['profile']} | {r['mode']} | {fmt(statistics.median(r['ttff']) if r['ttff'] else None)} "
              f"| {fmt(pct(r['ttff'], 0.95))} | {fmt(statistics.median(r['swipes']) if r['swipes'] else None)} "
              f"| {fmt(pct(r['swipes'], 0.95))} | {n} | {stalls_min:.2f} | {r['load'][0]:.1f} |")  # fmt: skip
    mem = results.get("memory")
    if mem:
        print()
        print("| after swipes | <video> now | peak <video> | .card nodes | DOM elements | JS heap (after GC) |")
        print("|---|---|---|---|---|---|")
        for k in sorted(k for k in mem if isinstance(k, int)):
            if k in mem:
                m = mem[k]
                cells = [k, m["videos"], m["peak_videos"], m["cards"], m["nodes"], f"{m['heap'] / 1e6:.2f} MB"]
                print("| " + " | ".join(str(c) for c in cells) + " |")
        print(f"(swipes that produced a frame: {mem['swiped']} of {args.long})")
    print()
    print(
        f"load average before {results['load_before'][0]:.1f}, after {results['load_after'][0]:.1f} (2 cores, shared)"
    )


if __name__ == "__main__":
    main()
