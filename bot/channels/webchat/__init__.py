"""Web chat: the widget's socket and its sends (channel.py), and photo uploads (upload.py).
It needs no settings of its own and no stand-in (the browser is the client). `FOLDER` declares
it to bot/channels/registry.py.
"""

from __future__ import annotations

from bot.channels.folder import ChannelFolder
from bot.channels.webchat.channel import WEBCHAT_IDS, build

FOLDER = ChannelFolder(build, WEBCHAT_IDS)
