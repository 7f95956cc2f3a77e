"""Attachments: images and PDFs agents send, photos web chat customers send.

Each file is checked by its bytes, never by its name or the browser's claim (PNG, JPEG, GIF, WebP;
PDF only where allowed) and by size (ATTACHMENT_MAX_MB), then kept under ATTACHMENT_DIR (by default
SHOPDESK_VAR/attachments: customer data, files 0600 in a 0700 directory) as `<token>` plus
`<token>.json` (type, name, conversation, expiry). `GET /media/<token>` serves it until it expires
(ATTACHMENT_TTL_HOURS); the token (256 random bits) is the only way to it, which is what a
provider fetching a media URL needs. Expired files are deleted by `purge_expired`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from aiohttp import BodyPartReader, web

PDF = "application/pdf"
IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
MEDIA_PATH = "/media/"


class AttachmentConfig(Protocol):
    @property
    def attachment_dir(self) -> str: ...

    @property
    def attachment_max_mb(self) -> float: ...

    @property
    def attachment_ttl_hours(self) -> float: ...


class AttachmentRejected(Exception):
    """Not stored: `reason` is `too_large`, `type`, `empty` or `malformed`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def sniff(data: bytes) -> str | None:
    """The content type the bytes are, among those accepted; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return PDF
    return None


@dataclass(frozen=True)
class Stored:
    token: str
    content_type: str
    name: str
    size: int
    conversation_id: str
    expires_at: float

    @property
    def path(self) -> str:
        return MEDIA_PATH + self.token

    def public(self, base_url: str) -> dict[str, str]:
        """What a message carries: the absolute URL (Twilio fetches it), type and file name."""
        return {"url": base_url.rstrip("/") + self.path, "content_type": self.content_type, "name": self.name}


class AttachmentStore:
    def __init__(self, directory: Path, max_bytes: int, ttl_seconds: float) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds

    @classmethod
    def from_config(cls, config: AttachmentConfig) -> AttachmentStore:
        return cls(Path(config.attachment_dir), int(config.attachment_max_mb * 1024 * 1024),
                   config.attachment_ttl_hours * 3600)

    def check(self, data: bytes, allow_pdf: bool) -> str:
        if not data:
            raise AttachmentRejected("empty", "the file is empty")
        if len(data) > self.max_bytes:
            raise AttachmentRejected("too_large", f"the file has {len(data) / 1048576:.1f} MB, at most "
                                     f"{self.max_bytes / 1048576:g} MB are accepted (ATTACHMENT_MAX_MB)")
        kind = sniff(data)
        if kind is None or (kind == PDF and not allow_pdf):
            allowed = "an image (PNG, JPEG, GIF, WebP)" + (" or a PDF" if allow_pdf else "")
            raise AttachmentRejected("type", f"only {allowed} is accepted")
        return kind

    async def save(self, data: bytes, name: str, conversation_id: str, allow_pdf: bool = True) -> Stored:
        """Checks and stores; raises AttachmentRejected."""
        kind = self.check(data, allow_pdf)
        safe = re.sub(r"[^\w.\- ]+", "_", Path(name or "file").name)[:80] or "file"
        expires = time.time() + self.ttl_seconds
        stored = Stored(secrets.token_urlsafe(32), kind, safe, len(data), conversation_id, expires)
        await asyncio.to_thread(self._write, stored, data)
        return stored

    def _write(self, stored: Stored, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path, content in ((self.directory / stored.token, data),
                              (self.directory / f"{stored.token}.json", json.dumps(asdict(stored)).encode())):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(content)

    def delete(self, token: str) -> None:
        """Forgets a file that was not used after all (a refused or duplicate message)."""
        if _TOKEN.match(token):
            (self.directory / token).unlink(missing_ok=True)
            (self.directory / f"{token}.json").unlink(missing_ok=True)

    def find(self, token: str) -> tuple[Path, Stored] | None:
        """The file and its record while it has not expired."""
        if not _TOKEN.match(token):
            return None
        try:
            stored = Stored(**json.loads((self.directory / f"{token}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None
        path = self.directory / token
        if stored.expires_at < time.time() or not path.is_file():
            return None
        return path, stored

    def purge_expired(self) -> int:
        """Deletes expired files; returns how many."""
        removed = 0
        now = time.time()
        for meta in self.directory.glob("*.json") if self.directory.is_dir() else ():
            try:
                expires = float(json.loads(meta.read_text())["expires_at"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if expires < now:
                meta.with_suffix("").unlink(missing_ok=True)
                meta.unlink(missing_ok=True)
                removed += 1
        return removed


@dataclass(frozen=True)
class Upload:
    fields: dict[str, str]
    data: bytes | None
    filename: str


MAX_FIELD = 16 * 1024


async def read_upload(request: web.Request, max_bytes: int) -> Upload:
    """A multipart form read part by part (the app's small client_max_size does not apply): text
    fields up to 16 KB, the `file` part up to `max_bytes` + 1 (so that the size check sees it is
    too large without reading all of it). Raises AttachmentRejected("malformed", …)."""
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise AttachmentRejected("malformed", "send multipart/form-data") from None
    fields: dict[str, str] = {}
    data: bytes | None = None
    filename = "file"
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.name == "file":
            filename = part.filename or "file"
            chunks, size = [], 0
            while size <= max_bytes and (chunk := await part.read_chunk(64 * 1024)):
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
        else:
            raw = await part.read_chunk(MAX_FIELD + 1)
            if len(raw) > MAX_FIELD:
                raise AttachmentRejected("malformed", f"the field {part.name} is longer than {MAX_FIELD} bytes")
            fields[part.name] = raw.decode("utf-8", "replace")
    return Upload(fields, data, filename)


def media_route(store: AttachmentStore) -> web.RouteDef:
    """`GET /media/{token}`: the file, inline, never cached by shared caches, never sniffed."""

    async def serve(request: web.Request) -> web.StreamResponse:
        found = store.find(request.match_info["token"])
        if found is None:
            raise web.HTTPNotFound(text="no such attachment (or it has expired)")
        path, stored = found
        disposition = "inline" if stored.content_type != PDF else "attachment"
        return web.FileResponse(path, headers={
            "Content-Type": stored.content_type,
            "Content-Disposition": f'{disposition}; filename="{stored.name}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        })

    return web.get(MEDIA_PATH + "{token}", serve)
