// baton-connector: connect a DBOS TypeScript application (@dbos-inc/dbos-sdk 5.3, whose open
// core has no Conductor client) to a Baton conductor, through DBOS's public API.
//
// Usage, after `DBOS.launch()` and with a unique `executorID` in the DBOS config:
//
//     const handle = await connect(conductorUrl, conductorKey);
//     ...
//     await DBOS.shutdown();
//     await handle.stop();
//
// Owns `connect` and `ConnectorHandle`; the wire format is `protocol`, the DBOS side `verbs`, the
// recovery path per version `recovery`, the socket `connection`.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { DBOS } = require('@dbos-inc/dbos-sdk');
const { ConductorSocket } = require('./connection');
const { ConfigError, ConnectorError, NotSupported, ProtocolError } = require('./errors');
const { Strategy } = require('./recovery');
const { Verbs } = require('./verbs');

const VERSION = '0.1.0';
/** DBOS's executor id when neither `executorID` nor `DBOS__VMID` is set. */
const DEFAULT_EXECUTOR_ID = 'local';
const SDK_PACKAGE = '@dbos-inc/dbos-sdk';

/** The running connection of this process; `await stop()` after `DBOS.shutdown()`. */
class ConnectorHandle {
  constructor(socket, verbs) {
    this._socket = socket;
    /** How this connector serves `recovery` on the installed SDK. */
    this.recoveryStrategy = verbs.strategy;
  }

  /** Resolves true once a session with the conductor is open, false after `timeoutMs`. */
  waitConnected(timeoutMs) {
    return this._socket.waitConnected(timeoutMs);
  }

  /** Close the session with 1000 and stop reconnecting (idempotent). */
  stop() {
    return this._socket.stop();
  }
}

/**
 * Connect this launched DBOS application to the conductor at `conductorUrl`.
 *
 * @param {string} conductorUrl ws:// or wss:// base URL of Baton's gateway
 * @param {string} conductorKey the application's conductor key
 * @param {{ appName?: string, executorMetadata?: object, recovery?: string }} [options]
 *   appName: the application name in the URL (default: DBOS's configured `name`);
 *   executorMetadata: sent in executor_info (with `connector` and `recovery`);
 *   recovery: force a `Strategy` instead of the version table's choice
 * @returns {Promise<ConnectorHandle>} resolves at once (the connection opens in the background)
 * @throws ConfigError DBOS is not launched, the executor id is DBOS's shared default ("local"),
 *   the URL is not a websocket URL, the key is empty, or `recovery` cannot be used here
 */
async function connect(conductorUrl, conductorKey, options = {}) {
  let scheme;
  try {
    scheme = new URL(conductorUrl).protocol;
  } catch {
    throw new ConfigError(`conductorUrl is not a URL: ${JSON.stringify(conductorUrl)}`);
  }
  if (scheme !== 'ws:' && scheme !== 'wss:') {
    throw new ConfigError(`conductorUrl must be a ws:// or wss:// URL, not ${scheme}`);
  }
  if (!conductorKey) {
    throw new ConfigError('conductorKey is empty');
  }
  checkExecutorId();
  const name = options.appName || configuredAppName();
  const base = `${conductorUrl.replace(/\/+$/, '')}/websocket/${encodeURIComponent(name)}`;
  const verbs = new Verbs({
    sdkVersion: installedSdkVersion(),
    executorMetadata: { connector: `baton-connector ${VERSION}`, ...(options.executorMetadata ?? {}) },
    strategy: options.recovery,
  });
  const socket = new ConductorSocket(`${base}/${encodeURIComponent(conductorKey)}`, (request) => verbs.answer(request), {
    shownUrl: base,
    logger: DBOS.logger,
  });
  socket.start();
  DBOS.logger.info(
    `baton-connector started for ${name} (executor ${DBOS.executorID}, recovery ${verbs.strategy})`,
  );
  return new ConnectorHandle(socket, verbs);
}

function checkExecutorId() {
  if (!DBOS.isInitialized()) {
    throw new ConfigError('call connect after DBOS.launch()');
  }
  if (DBOS.executorID === DEFAULT_EXECUTOR_ID) {
    // Every process would be "local": each one's startup recovery would re-enqueue all of the
    // application's PENDING workflows, and Baton could not tell executors apart.
    throw new ConfigError(
      'the DBOS executor id is "local": give each process a unique one, e.g. ' +
        'executorID: crypto.randomUUID() in DBOS.setConfig (or DBOS__VMID)',
    );
  }
}

/** The configured application name. The SDK has no public accessor for it: this reads the value
 * DBOS.launch() set (`internal/utils` globalParams.appName, read-only; the README lists it with the
 * recovery call as internal uses). Pass `appName` to avoid it. */
function configuredAppName() {
  let name;
  try {
    name = require(`${SDK_PACKAGE}/internal/utils`).globalParams?.appName;
  } catch {
    name = undefined;
  }
  if (!name) {
    throw new ConfigError('cannot read the DBOS application name: pass { appName } to connect');
  }
  return String(name);
}

/** The installed SDK's version, from its package.json (found next to its entry point). */
function installedSdkVersion() {
  let directory = path.dirname(require.resolve(SDK_PACKAGE));
  for (;;) {
    const candidate = path.join(directory, 'package.json');
    if (fs.existsSync(candidate)) {
      const manifest = JSON.parse(fs.readFileSync(candidate, 'utf-8'));
      if (manifest.name === SDK_PACKAGE) {
        return String(manifest.version);
      }
    }
    const parent = path.dirname(directory);
    if (parent === directory) {
      throw new ConfigError(`cannot find the version of ${SDK_PACKAGE}`);
    }
    directory = parent;
  }
}

module.exports = {
  connect,
  ConnectorHandle,
  ConnectorError,
  ConfigError,
  NotSupported,
  ProtocolError,
  Strategy,
  VERSION,
};
