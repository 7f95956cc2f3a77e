"""The customer channels, one folder each: its units behind `core.contract.Channel` (routes in:
parse the provider's request, hand an `Inbound` to the shared intake; sends out along one
`Route`; its policy: id prefix, length, choices, reply window), its settings, its ids and its
stand-ins, declared in its `FOLDER` (folder.py). `registry.py` lists the folders, one line each;
nothing else in the gateway, privacy, `make run` or the desk names a channel (but the widget's own
privacy routes, `/webchat/erase` and `/webchat/config` in bot/privacy/api.py).
"""
