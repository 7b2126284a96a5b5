"""The console: Baton's HTTP JSON API and server-rendered dashboard over the store's projections.

Reads the store; asks live executors through Kafka and the gateways (``console.rpc``, its only
Kafka adapter); never imports the gateway or Faust.
"""
