"""Baton's exception tree, shared by every package (streams is the one they all import).

Every exception Baton raises on purpose is a ``ConductorError``. Most live here; a few live in the
module that owns their concept (named in brackets) and are drawn here so that the whole tree is in
one place.

* ConductorError                 -- root of everything Baton raises on purpose
    * RecordError                -- a Kafka record that is not a Baton record
    * ProtocolError              -- bad executor input (DBOS frame) -> close code, never a crash
        * UnknownMessageType     -- [gateway.protocol] a well-formed frame of an unknown type
                                    -> an error reply, the session stays open
    * PublishError               -- a Kafka write failed (retriable)
    * AuthError                  -- unknown, revoked or other-app API key
    * RoleFailed                 -- a part of a role died: the process exits non-zero
    * ServiceNotRunning          -- work offered to a service not started yet, or stopping
    * RequestError               -- a request to an executor did not get a useful answer
        * RequestTimeout         -- no reply within the request's timeout (retriable)
        * SessionClosed          -- the session closed while the request was in flight (retriable)
        * ExecutorFailed         -- the executor replied with an error message
            * VerbUnsupported    -- its client does not know the request's type (an
                                    unknown-type reply, or a client known to lack it) -> 501
            * DataRefused        -- it runs in metadata-only mode and refuses data requests
        * LiveUnavailable        -- [management.channel] no live answer: serve the store's
            * NoLiveExecutor     -- [management.channel] no executor of the app is connected
    * ActionFailed               -- [management.outcomes] an operator's action did not succeed
    * BadParameter               -- [management.params] a malformed request parameter -> 400
                                    (also a ``ValueError``)
    * ConsoleUnreachable         -- [baton.remote] the CLI found no console at its URL
    * Unauthorized               -- [console.access.guard] a console request's credentials are
                                    refused (malformed, unknown or revoked token) -> 401
    * OidcError                  -- [console.oidc.flow] a single sign-on did not succeed
                                    -> 400/403/502 (refused sign-in, no role, provider failed)
    * StartupError               -- a cause the user can fix, found at start-up: the CLI prints
                                    one line (cause and fix) and exits with code 2
        * ConfigError            -- a setting has a bad value (or the store is another Baton's)
        * PortInUse              -- a port Baton must listen on is taken
        * DataDirUnwritable      -- the data directory cannot be created or written
        * BrokerUnreachable      -- nothing answers as Kafka at the bootstrap address (retriable)
        * DatabaseUnreachable    -- the store's database does not answer (retriable)
        * DatabaseRefused        -- the database answered but refused: no such database or user
        * EmbeddedBrokerError    -- [baton.embedded_broker] the embedded broker did not start
            * BrokerPortInUse    -- [baton.embedded_broker] its port is taken (also a PortInUse)
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


class AuthError(ConductorError):
    """An API key was refused."""


class RoleFailed(ConductorError):
    """A part of a running role died (a gateway loop, the Faust app): restart is the
    orchestrator's job, so the process exits non-zero."""


class ServiceNotRunning(ConductorError):
    """A service was offered work (a background task) before it started or once it began to
    stop (``runtime.lifecycle``)."""


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


class VerbUnsupported(ExecutorFailed):
    """The executor's DBOS client does not support the request's type: it answered "Unknown
    message type", or its client is known to lack the verb (``gateway.clients``)."""


class DataRefused(ExecutorFailed):
    """The executor runs in DBOS's metadata-only Conductor mode and refuses requests whose point
    is a workflow's data (export, import, events, notifications, streams)."""


class StartupError(ConductorError):
    """Something the user can fix stops Baton from starting.

    ``str()`` is the cause and the fix; :attr:`line` is the same on one line, as the CLI prints it.

    Attributes:
        cause: what is wrong, naming the setting, address or path involved.
        fix: what to do about it (an imperative sentence without a final period).
    """

    def __init__(self, cause: str, *, fix: str) -> None:
        super().__init__(f"{cause}; to fix, {fix}")
        self.cause = cause
        self.fix = fix

    @property
    def line(self) -> str:
        """The cause and the fix on one line (newlines in either become spaces)."""
        return " ".join(f"{self.cause}; to fix, {self.fix}".split())


class ConfigError(StartupError):
    """A setting is invalid (or the store holds a schema this Baton cannot use)."""


class PortInUse(StartupError):
    """A port Baton must listen on is taken by another program.

    Attributes:
        host: the interface.
        port: the port.
    """

    def __init__(self, host: str, port: int, *, what: str, fix: str) -> None:
        super().__init__(f"{what} cannot listen on {host}:{port}: it is already in use", fix=fix)
        self.host = host
        self.port = port


class DataDirUnwritable(StartupError):
    """The data directory cannot be created or written.

    Attributes:
        path: the directory.
    """

    def __init__(self, path: str, reason: str, *, fix: str) -> None:
        super().__init__(f"the data directory {path} is not writable ({reason})", fix=fix)
        self.path = path


class BrokerUnreachable(StartupError):
    """Nothing answers as Kafka at the bootstrap address; the broker may still be starting.

    Attributes:
        bootstrap: the ``HOST:PORT`` list that was tried.
    """

    retriable: ClassVar[bool] = True

    def __init__(self, bootstrap: str, reason: str, *, fix: str) -> None:
        super().__init__(f"no Kafka broker answers at {bootstrap} ({reason})", fix=fix)
        self.bootstrap = bootstrap


class DatabaseUnreachable(StartupError):
    """The store's database does not answer (refused, unknown host, unopenable file); it may
    still be starting.

    Attributes:
        url: the store URL with its password masked.
    """

    retriable: ClassVar[bool] = True

    def __init__(self, url: str, reason: str, *, fix: str) -> None:
        super().__init__(f"cannot reach the store database {url} ({reason})", fix=fix)
        self.url = url


class DatabaseRefused(StartupError):
    """The database server answered but refused the store: no such database, user or password.

    Attributes:
        url: the store URL with its password masked.
    """

    def __init__(self, url: str, reason: str, *, fix: str) -> None:
        super().__init__(f"the database server refused the store {url} ({reason})", fix=fix)
        self.url = url
