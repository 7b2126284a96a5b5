// Types of baton-connector (plain JavaScript; see README.md).

/** How `recovery` is served (see README.md, Recovery). */
export declare const Strategy: {
  /** `DBOSExecutor.recoverPendingWorkflows(executorIDs)` (internal): what the stock client does. */
  readonly PRIVATE_RECOVER: 'private_recover';
  /** `DBOS.listWorkflows` + `DBOS.resumeWorkflows` (public). */
  readonly PUBLIC_RESUME: 'public_resume';
};
export type Strategy = (typeof Strategy)[keyof typeof Strategy];

export interface ConnectOptions {
  /** The application name in the URL; by default DBOS's configured `name`. */
  appName?: string;
  /** Sent in `executor_info` (with `connector` and `recovery`); JSON-serializable. */
  executorMetadata?: Record<string, unknown>;
  /** Force a recovery strategy instead of the version table's choice. */
  recovery?: Strategy;
}

/** The running connection of this process; `await stop()` after `DBOS.shutdown()`. */
export declare class ConnectorHandle {
  private constructor();
  /** How this connector serves `recovery` on the installed SDK. */
  readonly recoveryStrategy: Strategy;
  /** Resolves true once a session with the conductor is open, false after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<boolean>;
  /** Close the session with 1000 and stop reconnecting (idempotent). */
  stop(): Promise<void>;
}

/**
 * Connect this launched DBOS application to the conductor at `conductorUrl` (ws:// or wss://).
 * Resolves at once; the connection opens (and reopens 1 s after any close) in the background.
 * @throws ConfigError DBOS is not launched, its executor id is "local", the URL or key is bad.
 */
export declare function connect(
  conductorUrl: string,
  conductorKey: string,
  options?: ConnectOptions,
): Promise<ConnectorHandle>;

/** Root of the connector's errors. */
export declare class ConnectorError extends Error {}
/** `connect` was called in a state it cannot work in; the message says what to change. */
export declare class ConfigError extends ConnectorError {}
/** A conductor frame is malformed (answered, never thrown to the application). */
export declare class ProtocolError extends ConnectorError {}
/** The verb has no public DBOS API in this release (answered as "not supported by this client"). */
export declare class NotSupported extends ConnectorError {}

export declare const VERSION: string;
