"""Baton's Kafka contract: topic names, records and their codec, identifiers, bounds on untrusted
text, and the one exception tree every role raises. Imports nothing else of Baton's."""
