"""Kafka plumbing shared by the roles: topic creation, the Faust app and its tables, and reading
a topic from its start (replay). The records that travel on the topics are ``streams``."""
