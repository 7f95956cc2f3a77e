"""The shop's canned replies (REPLIES_FILE, by default replies.yml next to shop.yml).

A list of `{key, title: {de, en}, text: {de, en}}`; the file is read again whenever its modification
time changes, so an edit reaches the consoles without a restart. A broken file keeps the last good
replies and says what is wrong in the log and in the API answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from core.contract import LANGUAGES

log = logging.getLogger(__name__)


class InvalidReplies(ValueError):
    pass


def parse(raw: Any, path: Path) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidReplies(f"{path}: expected a list of replies (key, title, text)")
    replies: list[dict[str, Any]] = []
    for index, item in enumerate(raw, 1):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise InvalidReplies(f"{path}: reply {index} needs a 'key'")
        title, text = item.get("title"), item.get("text")
        if not isinstance(text, dict) or not all(isinstance(text.get(lang), str) for lang in LANGUAGES):
            raise InvalidReplies(f"{path}: reply {item['key']!r} needs text.de and text.en")
        titles = title if isinstance(title, dict) else {}
        replies.append({
            "key": item["key"],
            "title": {lang: str(titles.get(lang) or item["key"]) for lang in LANGUAGES},
            "text": {lang: text[lang] for lang in LANGUAGES},
        })
    return replies


@dataclass
class CannedReplies:
    path: Path
    _mtime: float | None = None
    _replies: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None

    def current(self) -> list[dict[str, Any]]:
        try:
            mtime = self.path.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            self._mtime, self._replies, self.problem = None, [], f"{self.path} does not exist"
            return []
        if mtime != self._mtime:
            try:
                self._replies = parse(yaml.safe_load(self.path.read_text(encoding="utf-8")), self.path)
                self.problem = None
            except (yaml.YAMLError, InvalidReplies, OSError) as exc:
                self.problem = str(exc)
                log.error("canned replies not reloaded, keeping the last good ones: %s", exc)
            self._mtime = mtime
        return self._replies
