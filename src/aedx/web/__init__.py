"""The web portals for people: server-rendered pages (Jinja2), translated with gettext
catalogues (zh-TW by default, English on request), on the same accounts and permissions as the
API. ``portal.install(app)`` mounts them under ``/portal``."""
