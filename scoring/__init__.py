"""Scoring: pure functions over answers and verdicts; Excel export."""
