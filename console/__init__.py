"""The console: Baton's HTTP JSON API (``console.api``) and server-rendered dashboard
(``console.dashboard``) over the store's projections.

Reads the store; asks live executors and acts on workflows through the management engine
(``management``); never imports the gateway or Faust.
"""
