"""Privacy (GDPR): export, erase and retention of customer data; see registry.py for where it lives."""
