"""Baton's exception tree, shared by every package (streams is the one they all import).

* ConductorError                 -- root of everything Baton raises on purpose
    * RecordError                -- a Kafka record that is not a Baton record
    * ProtocolError              -- bad executor input (DBOS frame) -> close code, never a crash
    * PublishError               -- a Kafka write failed (retriable)
    * ConfigError                -- invalid settings at startup (fatal)
    * AuthError                  -- unknown, revoked or other-app API key
    * RoleFailed                 -- a part of a role died: the process exits non-zero
    * RequestError               -- a request to an executor did not get a useful answer
        * RequestTimeout         -- no reply within the request's timeout (retriable)
        * SessionClosed          -- the session closed while the request was in flight (retriable)
        * ExecutorFailed         -- the executor replied with an error message
"""

from __future__ import annotations

from typing import ClassVar


class ConductorError(Exception):
    """Root of Baton's exceptions."""

    retriable: ClassVar[bool] = False


class RecordError(ConductorError):
    """A Kafka record that does not decode as a Baton record."""


class ProtocolError(ConductorError):
    """An executor sent something the DBOS Conductor protocol does not allow.

    Attributes:
        close_code: the WebSocket close code the gateway answers with.
    """

    def __init__(self, message: str, *, close_code: int = 1002) -> None:
        super().__init__(message)
        self.close_code = close_code


class PublishError(ConductorError):
    """Writing to Kafka failed."""

    retriable: ClassVar[bool] = True


class ConfigError(ConductorError):
    """A setting is invalid; raised at startup."""


class AuthError(ConductorError):
    """An API key was refused."""


class RoleFailed(ConductorError):
    """A part of a running role died (a gateway loop, the Faust app): restart is the
    orchestrator's job, so the process exits non-zero."""


class RequestError(ConductorError):
    """A request sent to an executor did not get a useful answer."""


class RequestTimeout(RequestError):
    """The executor did not answer within the request's timeout."""

    retriable: ClassVar[bool] = True


class SessionClosed(RequestError):
    """The executor's session closed while the request was in flight."""

    retriable: ClassVar[bool] = True


class ExecutorFailed(RequestError):
    """The executor answered with an error (its text is untrusted and bounded)."""
