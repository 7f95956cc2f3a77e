"""The WhatsApp channel, through either provider.

- rules.py            what both providers share: ids, the reply window, numbered choices, splitting, opt-out
- twilio_provider.py  Twilio: the signed webhook in, the twilio client out
- twilio_content.py   Twilio Content templates for quick replies
- cloud_provider.py   Meta's Cloud API: the verified and signed webhook in, the Graph API out
- twilio_standin.py, cloud_standin.py   local stand-ins for the providers' APIs (tests, `make run`)
"""
