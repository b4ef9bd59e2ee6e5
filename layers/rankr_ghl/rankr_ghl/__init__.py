"""Rankr <-> GoHighLevel connector core (shipped as the Lambda layer)."""
