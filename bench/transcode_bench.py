"""Transcode benchmark: one ffmpeg pass for the whole ladder vs one process per rung, time to the
first playable rung, bitrate and VMAF per rung. Prints a table; not a test.

    .venv/bin/python bench/transcode_bench.py                 # 60 s 1080x1920 30 fps, full run
    .venv/bin/python bench/transcode_bench.py --seconds 10    # quick
    .venv/bin/python bench/transcode_bench.py --spec 1080=superfast/23 --skip-baseline

The source (testsrc2 scaled up, with temporal noise like a phone sensor's, and a tone) is
rendered once into var/bench/. Encoding uses the app's ffmpeg (uploads.ffbin); VMAF needs
libvmaf, which the imageio-ffmpeg wheel's binary has. The machine may be shared: the load
average is printed with the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.files.storage import FileSystemStorage  # noqa: E402

from uploads import hls, transcode  # noqa: E402
from uploads.ffbin import ffmpeg_path  # noqa: E402
from uploads.preview import PreviewPublisher  # noqa: E402
from uploads.probe import probe  # noqa: E402

BENCH_DIR = ROOT / "var" / "bench"
SOURCE_GRAPH = "testsrc2=size=540x960:rate=30,scale=1080:1920:flags=bicubic,noise=alls=12:allf=t,format=yuv420p"
_VMAF = re.compile(r"VMAF score:\s*([\d.]+)")


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split(" ", 3)[:3])


def child_cpu() -> float:
    """CPU seconds used by finished child processes (ffmpeg): far less noisy than wall time when
    other work shares the cores."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_source(seconds: int) -> Path:
    dest = BENCH_DIR / f"source-{seconds}s-1080x1920.mp4"
    if dest.exists():
        return dest
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    # Rendered small and scaled up (cheap), then per-frame noise so it compresses like camera video.
    cmd = [
        "/usr/bin/ffmpeg" if Path("/usr/bin/ffmpeg").exists() else ffmpeg_path(),
        "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-f", "lavfi", "-i", SOURCE_GRAPH,
        "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000,volume=0.3",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-maxrate", "6M",
        "-bufsize", "12M", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
        "-movflags", "+faststart", str(dest),
    ]  # fmt: skip
    print(f"rendering {dest.name} ...", flush=True)
    subprocess.run(cmd, check=True)
    return dest


def parse_specs(values: list[str]) -> dict[int, transcode.RungSpec]:
    """`1080=ultrafast/23/cabac=1:8x8dct=1` → preset, crf, x264-params for that rung."""
    specs = dict(transcode.RUNG_SPECS)
    for value in values:
        name, _, rest = value.partition("=")
        preset, crf, params = (rest.split("/", 2) + ["", ""])[:3]
        base = specs[int(name)]
        specs[int(name)] = dataclasses.replace(
            base, preset=preset or base.preset, crf=int(crf) if crf else base.crf, x264_params=params
        )
    return specs


def one_pass(source: Path, work: Path, specs: dict[int, transcode.RungSpec]) -> dict:
    """Our pipeline's path: copy from 'storage', probe, one ffmpeg, preview watcher, finalize."""
    started = time.monotonic()
    work.mkdir(parents=True)
    local = work / "source.mp4"
    shutil.copyfile(source, local)
    facts = probe(local)
    ladder = transcode.plan_ladder(facts.width, facts.height, specs=specs)
    plan = transcode.TranscodePlan(source=local, outdir=work / "hls", ladder=ladder, fps=facts.fps, has_audio=True)
    store = FileSystemStorage(location=str(work / "store"))
    preview = PreviewPublisher(store, plan.outdir / str(ladder[0].name), f"videos/1/a1/{ladder[0].name}")
    transcode.run(plan, facts.duration, lambda p: preview.poll())
    stats = hls.finalize(plan.outdir, ladder, plan.out_fps)
    wall = time.monotonic() - started
    first = preview.published_at - started if preview.published_at else float("nan")
    return {"wall": wall, "first_playable": first, "stats": stats, "ladder": ladder, "outdir": plan.outdir}


def per_rung_baseline(source: Path, work: Path, ladder: list[transcode.Rung], fps: float) -> tuple[float, list[float]]:
    """MediaCMS-style: one ffmpeg per rung, one after the other, same encoder settings per rung."""
    started = time.monotonic()
    times = []
    for rung in ladder:
        t0 = time.monotonic()
        plan = transcode.TranscodePlan(
            source=source, outdir=work / f"base{rung.name}", ladder=[rung], fps=fps, has_audio=True
        )
        transcode.run(plan, 60)
        times.append(time.monotonic() - t0)
    return time.monotonic() - started, times


def vmaf(rung_playlist: Path, source: Path, subsample: int) -> float:
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    graph = (
        "[0:v]scale=1080:1920:flags=bicubic,setpts=PTS-STARTPTS,format=yuv420p[d];"
        "[1:v]setpts=PTS-STARTPTS,format=yuv420p[r];"
        f"[d][r]libvmaf=n_threads=2:n_subsample={subsample}"
    )
    cmd = [
        exe,
        "-hide_banner",
        "-nostdin",
        "-i",
        str(rung_playlist),
        "-i",
        str(source),
        "-lavfi",
        graph,
        "-f",
        "null",
        "-",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    match = _VMAF.search(proc.stderr)
    if not match:
        raise RuntimeError(f"no VMAF score:\n{proc.stderr[-2000:]}")
    return float(match[1])


def profile_of(rung_dir: Path) -> str:
    playlist = hls.parse_media((rung_dir / hls.PLAYLIST).read_text())
    sample = rung_dir / "probe.mp4"
    with open(sample, "wb") as out:
        for name in [playlist.init, playlist.segments[0][1]]:
            out.write((rung_dir / name).read_bytes())
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=profile",
         "-of", "csv=p=0", str(sample)],
        capture_output=True, text=True,
    )  # fmt: skip
    sample.unlink()
    return proc.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--spec", action="append", default=[], help="rung=preset/crf/x264-params override")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-vmaf", action="store_true")
    parser.add_argument("--vmaf-rungs", default="360,540,720,1080")
    parser.add_argument("--vmaf-subsample", type=int, default=3, help="score every Nth frame")
    parser.add_argument("--repeat", type=int, default=1, help="alternate one pass and baseline N times")
    args = parser.parse_args()

    specs = parse_specs(args.spec)
    source = make_source(args.seconds)
    size_mb = source.stat().st_size / 1e6
    print(f"source {source.name}: {size_mb:.1f} MB; ffmpeg {ffmpeg_path()}; cores {os.cpu_count()}")
    for name, spec in sorted(specs.items()):
        params = spec.x264_params or "-"
        print(f"  {name}: preset={spec.preset} crf={spec.crf} maxrate={spec.maxrate_k}k x264-params={params}")
    work = Path(tempfile.mkdtemp(prefix="transcode-bench-"))
    try:
        load_before = load()
        runs, baselines = [], []
        # Alternate the two so that load from other work on the machine hits both alike.
        for i in range(args.repeat):
            cpu0 = child_cpu()
            run = one_pass(source, work / f"one{i}", specs)
            run["cpu"] = child_cpu() - cpu0
            runs.append(run)
            print(f"one pass #{i + 1}: {run['wall']:.1f} s wall, {run['cpu']:.1f} s CPU; first rung playable "
                  f"after {run['first_playable']:.1f} s (load {load()})", flush=True)  # fmt: skip
            if not args.skip_baseline:
                cpu0 = child_cpu()
                wall, times = per_rung_baseline(source, work / f"base{i}", run["ladder"], 30.0)
                baselines.append({"wall": wall, "cpu": child_cpu() - cpu0})
                print(f"per-rung baseline #{i + 1}: {wall:.1f} s wall ({', '.join(f'{t:.1f}' for t in times)}), "
                      f"{baselines[-1]['cpu']:.1f} s CPU (load {load()})", flush=True)  # fmt: skip
        result = min(runs, key=lambda r: r["wall"])
        baseline = min(baselines, key=lambda r: r["wall"]) if baselines else None
        scores: dict[int, float] = {}
        if not args.skip_vmaf:
            wanted = {int(x) for x in args.vmaf_rungs.split(",") if x}
            for rung in result["ladder"]:
                if rung.name in wanted:
                    scores[rung.name] = vmaf(
                        result["outdir"] / str(rung.name) / hls.PLAYLIST, source, args.vmaf_subsample
                    )
                    print(f"VMAF {rung.name}: {scores[rung.name]:.2f}", flush=True)

        d = args.seconds
        print()
        print("| measure | value | target |\n|---|---|---|")
        print(f"| clip | {d} s 1080x1920 30 fps + AAC, {size_mb:.1f} MB | |")
        n = f" (best of {args.repeat})" if args.repeat > 1 else ""
        print(f"| full ladder, one pass{n} | {result['wall']:.1f} s ({result['wall'] / d:.2f}x clip), "
              f"{result['cpu']:.0f} s CPU | <= 0.6x |")  # fmt: skip
        if baseline:
            print(f"| one process per rung, sequential{n} | {baseline['wall']:.1f} s "
                  f"({baseline['wall'] / d:.2f}x clip), {baseline['cpu']:.0f} s CPU | |")  # fmt: skip
            print(f"| speed-up of one pass (wall / CPU) | {baseline['wall'] / result['wall']:.2f}x / "
                  f"{baseline['cpu'] / result['cpu']:.2f}x | >= 1.5x |")  # fmt: skip
        firsts = ", ".join(f"{r['first_playable']:.1f}" for r in runs)
        print(f"| upload complete -> first rung playable | {firsts} s | <= 10 s |")
        print(f"| load average (1/5/15 min) before/after | {load_before} / {load()} | |")
        print()
        print("| rung | size | profile | preset/crf | avg kb/s | peak kb/s | VMAF |\n|---|---|---|---|---|---|---|")
        for s, rung in zip(result["stats"], result["ladder"], strict=True):
            score = f"{scores[s.name]:.2f}" if s.name in scores else "-"
            print(f"| {s.name} | {s.width}x{s.height} | {profile_of(result['outdir'] / str(s.name))} | "
                  f"{rung.spec.preset}/{rung.spec.crf} {rung.spec.x264_params} | {s.average_bps // 1000} | "
                  f"{s.peak_bps // 1000} | {score} |")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
