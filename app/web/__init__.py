"""Pages people use: thin routers that render templates; the screens' logic is in app/static.

Pages embed the seq of the state they rendered, and their sockets resume from it. No business
rule lives here: pages call the same services as the JSON API.
"""
