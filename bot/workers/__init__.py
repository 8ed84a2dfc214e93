"""Background work: the in-process reply sender, the outbox worker, its pacing and wake-ups."""
