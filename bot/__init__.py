"""The channel gateway: WhatsApp (Twilio) and web chat in, Rasa or the live-agent desk out."""
