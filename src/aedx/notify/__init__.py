"""Notifications: events in the portal, by e-mail and to organisations' webhooks, sent through a
durable outbox (``events``, ``outbox``, ``mail``, ``webhooks``)."""

from aedx.notify.events import decided, failed, packages_ready, taken

__all__ = ["decided", "failed", "packages_ready", "taken"]
