"""The customer channels, each one complete unit behind `core.contract.Channel`: its routes
in (parse the provider's request, hand an `Inbound` to the shared intake), its sends out, and
its policy (id prefix, length, choices, reply window). `registry.py` lists them, one line each;
nothing else in the gateway or the desk names a channel.
"""
