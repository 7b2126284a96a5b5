"""The console: Baton's HTTP JSON API (and, later, the dashboard) over the store's projections.

Reads the store; never imports the gateway, Faust or Kafka directly.
"""
