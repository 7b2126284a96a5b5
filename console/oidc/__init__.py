"""Optional single sign-on with OpenID Connect: the console as a relying party.

- ``config``: the settings (``OidcConfig``, from ``BATON_OIDC_*``) and the claim-to-role mapping.
- ``flow``: the pure parts of one sign-in (the signed flow cookie, the identity, the errors).
- ``provider``: the only module that talks to the provider (Authlib over httpx): discovery, the
  authorization URL, the code exchange, ID token validation against the provider's JWKS.
- ``routes``: ``/auth/oidc/login`` and ``/auth/oidc/callback`` as Starlette routes, handing the
  signed-in identity to the login system's ``on_signed_in`` callback.

Importing this package imports nothing: ``baton.settings`` imports ``config`` alone, without
Authlib. The package never imports the login system (it hands an identity to a callback), the
store, the management engine or the dashboard.
"""
