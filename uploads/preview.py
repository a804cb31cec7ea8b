"""Progressive availability: the lowest rung goes to storage while ffmpeg still encodes the ladder.

ffmpeg rewrites each rung's EVENT playlist after every finished segment. `poll()` copies the
segments that playlist lists, then the playlist itself, so a player never sees a segment URI
before its bytes are stored; it re-reads the playlist (EVENT) until the final VOD one replaces it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.core.files.storage import Storage

from uploads.hls import PLAYLIST, parse_media
from uploads.storage import save_file

log = logging.getLogger(__name__)


class PreviewPublisher:
    def __init__(self, storage: Storage, rung_dir: Path, prefix: str):
        self.storage = storage
        self.rung_dir = rung_dir
        self.prefix = prefix  # storage folder of this rung, e.g. videos/12/a1/360
        self.stored: set[str] = set()  # storage names of init and segments already copied
        self.published_at: float | None = None  # time.monotonic() of the first playable playlist
        self._last_text = ""

    @property
    def playlist_name(self) -> str:
        return f"{self.prefix}/{PLAYLIST}"

    def poll(self) -> bool:
        """Copy what is new; True exactly once, when the first playable playlist is stored."""
        try:
            text = (self.rung_dir / PLAYLIST).read_text()
        except FileNotFoundError:
            return False
        if text == self._last_text:
            return False
        playlist = parse_media(text)
        if not playlist.segments:
            return False
        uris = ([playlist.init] if playlist.init else []) + [uri for _, uri in playlist.segments]
        for uri in uris:
            name = f"{self.prefix}/{uri}"
            if name not in self.stored:
                save_file(self.storage, name, self.rung_dir / uri)
                self.stored.add(name)
        save_file(self.storage, self.playlist_name, text.encode())
        self._last_text = text
        if self.published_at is None:
            self.published_at = time.monotonic()
            log.info("preview %s playable (%d segments)", self.playlist_name, len(playlist.segments))
            return True
        return False
