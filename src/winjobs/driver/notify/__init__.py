"""Telling users that their jobs ended: webhooks and e-mail through an outbox (docs/driver.md)."""
