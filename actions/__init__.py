"""Rasa custom actions (rasa-sdk), served by `rasa_sdk --actions actions`."""
