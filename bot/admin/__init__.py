"""The /admin dashboard: server-rendered pages a shop owner reads without training.

Off unless `admin_token` is set. Sign-in is by that token (its own, never the webhook's): typed
into the sign-in form, or once as `?token=` (then swapped for a cookie and removed from the
URL). The cookie holds a value derived from the token, not the token itself. Pages: today at a
glance, messages and replies per hour over 7 days (inline SVG, no scripts), rules and their
hits, recent messages, rule file status, and a playground that runs the same code as
`rulebot try`.

Modules: `signin` (token, session cookie, lockout), `pages` (handlers, routes, templates),
`chart` (the week chart's SVG geometry).
"""

from bot.admin.pages import AdminPages, add_admin_routes

__all__ = ["AdminPages", "add_admin_routes"]
