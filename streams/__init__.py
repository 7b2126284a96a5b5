"""Baton's Kafka contract: topic names, event and command records, and the Faust app."""
