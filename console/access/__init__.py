"""Who may use the console: sign-in, sessions, roles on every route, CSRF.

``identity`` (who a request is), ``rules`` (the role each route needs), ``sessions`` (the signed
session cookie's content), ``guard`` (the middleware that resolves the identity and enforces the
rules), ``signin`` (the sign-in and sign-out pages, and single sign-on's landing), ``csrf`` (the
one ``import asgi_csrf``).
"""
