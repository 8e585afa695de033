"""Delivery: one pipeline from a finished run to messages (gates, email, chat), the outbox and SMTP."""
