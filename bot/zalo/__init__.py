"""Zalo: our own small client of the Zalo Bot API (client.py) and the seam for a later
Zalo Official Account transport (seam.py). The channel adapter is bot/channels/zalo.py."""
