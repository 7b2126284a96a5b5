"""The SQL store: models, the engine and session factory, API keys and the projections.

SQLite by default (one file under the data dir, shared by the CLI, gateway, worker and console
processes), PostgreSQL in production. Imports ``streams`` (records, liveness, exceptions) and
nothing else of Baton's: the gateway, the worker, the console and the CLI import it.
"""
