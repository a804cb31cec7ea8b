"""HLS playlists as text: read what ffmpeg wrote, turn the finished EVENT playlists into VOD, and
write the master playlist from measured figures.

ffmpeg's own master guesses BANDWIDTH from encoder settings (with CRF it is far off); the
HLS spec wants the peak segment bitrate, which only the written segments can tell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

PLAYLIST = "index.m3u8"
MASTER = "master.m3u8"

_MAP = re.compile(r'#EXT-X-MAP:URI="([^"]+)"')
_CODECS = re.compile(r'CODECS="([^"]+)"')


class PlaylistError(RuntimeError):
    pass


@dataclass
class MediaPlaylist:
    init: str | None = None
    segments: list[tuple[float, str]] = field(default_factory=list)  # (seconds, uri)
    ended: bool = False

    @property
    def duration(self) -> float:
        return sum(d for d, _ in self.segments)


@dataclass(frozen=True)
class RungStats:
    name: int
    width: int
    height: int
    average_bps: int
    peak_bps: int
    codecs: str


def parse_media(text: str) -> MediaPlaylist:
    playlist = MediaPlaylist()
    pending: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#EXTINF:"):
            pending = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line.startswith("#EXT-X-MAP:"):
            match = _MAP.match(line)
            playlist.init = match[1] if match else None
        elif line == "#EXT-X-ENDLIST":
            playlist.ended = True
        elif not line.startswith("#") and pending is not None:
            playlist.segments.append((pending, line))
            pending = None
    return playlist


def read_media(path: Path) -> MediaPlaylist | None:
    """The playlist at `path`, or None while ffmpeg has not written it yet."""
    try:
        return parse_media(path.read_text())
    except FileNotFoundError:
        return None


def as_vod(text: str) -> str:
    """The finished EVENT playlist as a VOD one (same segments, nothing left to poll for)."""
    if "#EXT-X-ENDLIST" not in text:
        raise PlaylistError("the playlist is not finished (no #EXT-X-ENDLIST)")
    if "#EXT-X-PLAYLIST-TYPE:" in text:
        return re.sub(r"#EXT-X-PLAYLIST-TYPE:\w+", "#EXT-X-PLAYLIST-TYPE:VOD", text)
    return text.replace("#EXTM3U\n", "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n", 1)


def _codecs_by_uri(master_text: str) -> dict[str, str]:
    """CODECS per variant from ffmpeg's master (it reads them from the encoders' extradata)."""
    found: dict[str, str] = {}
    codecs = ""
    for raw in master_text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-STREAM-INF:"):
            match = _CODECS.search(line)
            codecs = match[1] if match else ""
        elif line and not line.startswith("#"):
            found[line] = codecs
            codecs = ""
    return found


def finalize(outdir: Path, ladder: list, fps: float) -> list[RungStats]:
    """Rewrite each rung's playlist as VOD and the master with measured bandwidth. Returns stats.

    `ladder` is the list of transcode.Rung that ffmpeg encoded into `outdir/<name>/`.
    """
    master_path = outdir / MASTER
    codecs = _codecs_by_uri(master_path.read_text()) if master_path.exists() else {}
    stats = []
    for rung in ladder:
        rung_dir = outdir / str(rung.name)
        path = rung_dir / PLAYLIST
        text = path.read_text()
        path.write_text(as_vod(text))
        playlist = parse_media(text)
        if not playlist.segments:
            raise PlaylistError(f"rung {rung.name} has no segments")
        init_bytes = (rung_dir / playlist.init).stat().st_size if playlist.init else 0
        sizes = [(d, (rung_dir / uri).stat().st_size) for d, uri in playlist.segments]
        total = init_bytes + sum(size for _, size in sizes)
        average = int(total * 8 / max(playlist.duration, 0.1))
        # The last segment may be a fraction of a second long: its ratio says nothing about peaks.
        full = [(d, size) for d, size in sizes if d >= 0.5] or sizes
        peak = max(int(size * 8 / max(d, 0.1)) for d, size in full)
        rung_codecs = codecs.get(f"{rung.name}/{PLAYLIST}", "")
        stats.append(RungStats(rung.name, rung.width, rung.height, average, max(peak, average), rung_codecs))
    master_path.write_text(master_text(stats, fps))
    return stats


def master_text(stats: list[RungStats], fps: float) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for s in stats:
        attrs = [
            f"BANDWIDTH={s.peak_bps}",
            f"AVERAGE-BANDWIDTH={s.average_bps}",
            f"RESOLUTION={s.width}x{s.height}",
            f"FRAME-RATE={fps:.3f}",
        ]
        if s.codecs:
            attrs.append(f'CODECS="{s.codecs}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), f"{s.name}/{PLAYLIST}"]
    return "\n".join(lines) + "\n"
