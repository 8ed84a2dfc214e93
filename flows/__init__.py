"""The conversation engine and questionnaire model: pure, no I/O, no chat app."""
