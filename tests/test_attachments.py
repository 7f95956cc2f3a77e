"""Attachments: checked by their bytes and size, kept as 0600 files, served under an unguessable
URL until they expire; agents send them through the desk API."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.attachments import AttachmentRejected, AttachmentStore, media_route, sniff
from tests.handoff_support import desk_app, new_id

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def test_types_are_read_from_the_bytes_not_the_name() -> None:
    assert sniff(PNG) == "image/png"
    assert sniff(b"\xff\xd8\xff\xe0" + b"\x00" * 10) == "image/jpeg"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(PDF) == "application/pdf"
    assert sniff(b"<svg onload=alert(1)>") is None
    assert sniff(b"MZ\x90\x00") is None


async def test_store_checks_keeps_0600_files_and_serves_until_expiry(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "attachments", max_bytes=1024, ttl_seconds=60)
    with pytest.raises(AttachmentRejected) as too_large:
        await store.save(PNG + b"\x00" * 2048, "big.png", "web-x")
    assert too_large.value.reason == "too_large"
    with pytest.raises(AttachmentRejected) as wrong:
        await store.save(b"#!/bin/sh\nrm -rf /\n", "harmless.png", "web-x")
    assert wrong.value.reason == "type"
    with pytest.raises(AttachmentRejected):
        await store.save(PDF, "rechnung.pdf", "web-x", allow_pdf=False)

    stored = await store.save(PNG, "../../etc/passwd<script>.png", "web-x")
    assert len(stored.token) == 43 and stored.name == "passwd_script_.png"
    for path in (tmp_path / "attachments" / stored.token, tmp_path / "attachments" / f"{stored.token}.json"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "attachments").st_mode) == 0o700

    app = web.Application()
    app.router.add_routes([media_route(store)])
    async with TestClient(TestServer(app)) as client:
        response = await client.get(stored.path)
        assert response.status == 200
        assert await response.read() == PNG
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "private, no-store"
        assert (await client.get("/media/" + "A" * 43)).status == 404
        assert (await client.get("/media/..%2F..%2Fetc%2Fpasswd")).status == 404
        # Once expired it is gone, and the sweep deletes the files.
        meta = tmp_path / "attachments" / f"{stored.token}.json"
        meta.write_text(meta.read_text().replace(str(stored.expires_at), str(time.time() - 1)))
        assert (await client.get(stored.path)).status == 404
    assert store.purge_expired() == 1
    assert not (tmp_path / "attachments" / stored.token).exists()


async def test_agent_sends_an_image_or_pdf_and_wrong_or_large_files_are_refused(redis_url, database_url, tmp_path):
    async with desk_app(redis_url, database_url, attachment_dir=str(tmp_path / "att"), attachment_max_mb=0.001,
                        public_url="https://desk.example") as h:
        cid = new_id()
        await h.handoff(cid)

        async def send(data: bytes, name: str, agent: str = "anna-desk", text: str = "") -> aiohttp.ClientResponse:
            form = aiohttp.FormData()
            form.add_field("text", text)
            form.add_field("file", data, filename=name, content_type="application/octet-stream")
            return await h.client.post(f"/api/handoff/{cid}/attachments", data=form, headers=h.auth(agent))

        assert (await send(PNG, "foto.png")).status == 403  # not claimed yet
        assert (await h.claim(cid, "anna-desk")).status == 200
        assert (await send(PNG, "foto.png", agent="ben-desk")).status == 403
        refused = await send(b"hello", "foto.png")
        assert (refused.status, (await refused.json())["error"]) == (415, "type")
        large = await send(PDF + b"0" * 2000, "rechnung.pdf")
        assert (large.status, (await large.json())["error"]) == (413, "too_large")

        ok = await send(PDF, "Rechnung 10042.pdf", text="Hier die Rechnung")
        assert ok.status == 200, await ok.text()
        attachment = (await ok.json())["attachment"]
        assert attachment["url"].startswith("https://desk.example/media/")
        assert attachment["content_type"] == "application/pdf"
        _, sent = h.delivery.sent[-1]
        assert (sent.text, sent.sender, sent.custom) == ("Hier die Rechnung", "agent", {"attachment": attachment})

        await send(PNG, "foto.png")
        _, sent = h.delivery.sent[-1]
        assert sent.text == "📎 foto.png"
