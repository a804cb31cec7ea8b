"""Opaque, signed keyset cursors for the feed: (published_at, id) of the last card shown.

Signed so clients cannot forge positions; keyset so page N costs the same as page 1 (no OFFSET).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core import signing

SALT = "feed.cursor.v1"


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    published_at: datetime
    id: int

    def encode(self) -> str:
        return signing.dumps([self.published_at.isoformat(), self.id], salt=SALT, compress=True)

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            when, pk = signing.loads(token, salt=SALT)
            return cls(datetime.fromisoformat(when), int(pk))
        except (signing.BadSignature, ValueError, TypeError):
            raise BadCursor("invalid cursor") from None
