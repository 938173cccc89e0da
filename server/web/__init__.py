"""The people's pages: station tablet, the boss's phone, admin, customer share links (server-rendered).

`server.web.pages.PAGE_ROUTERS` lists every page router; `create_app` includes them and mounts `static/`.
"""
