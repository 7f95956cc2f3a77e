"""The web chat channel: the widget's websocket (channel.py) and its photo upload (upload.py)."""
