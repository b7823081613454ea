"""Integrations with web frameworks that need more than wrapping their ASGI app."""
