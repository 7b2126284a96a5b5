"""Baton's composition root: settings, logging, the CLI and the ``baton up`` supervisor.

Imports every other package; nothing imports it.
"""
