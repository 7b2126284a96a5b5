"""The connector's exceptions.

* ConnectorError        -- root
    * ConfigError       -- ``connect`` cannot run as asked (DBOS not launched, executor id
                           ``"local"``, a bad URL): raised to the application at once
    * ProtocolError     -- a conductor frame the connector cannot read: answered, never raised
                           to the application
    * NotSupported      -- a verb the public DBOS API cannot serve: answered with
                           ``"<verb> is not supported by this client ..."``
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of the connector's exceptions."""


class ConfigError(ConnectorError):
    """``connect`` was called in a state it cannot work in; the message says what to change."""


class ProtocolError(ConnectorError):
    """A conductor frame is malformed (not JSON, or a field of the wrong type)."""


class NotSupported(ConnectorError):
    """The verb has no public DBOS API in this release; the message names the limit."""
