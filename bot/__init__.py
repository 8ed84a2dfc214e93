"""Transport and wiring: channels, outbox, webhook server, CLI."""
