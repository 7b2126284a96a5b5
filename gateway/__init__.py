"""The WebSocket edge: the DBOS Conductor protocol (server side) in, Baton's Kafka records out."""
