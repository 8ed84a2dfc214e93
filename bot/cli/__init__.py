"""The `phieu` command: one module per command group (forms, agencies, campaign, invite, …);
app.py holds the root command and the ones that run the bot."""

from bot.cli.app import app, main

__all__ = ["app", "main"]
