// A real DBOS TypeScript application (@dbos-inc/dbos-sdk, pinned in package.json) that Baton's
// conformance tests start and drive: `node tests/clients/typescript/executor_app.js`.
//
// It keeps the contract of tests/clients/__init__.py (environment, READY line, control
// endpoints; what it does not implement answers 501). Plain JavaScript on purpose: the SDK's
// functional API (DBOS.registerWorkflow / registerStep) needs no compiler, so starting an executor
// needs only `npm ci`.
//
// Workflows: multi_step(n, step_seconds) runs n steps; step k appends
// "<workflow_id> <k> <executor_id>" to <marker_dir>/<workflow_id>.steps (fsynced) and then
// sleeps. quick(x) returns x * 2; failing(message) runs one step and throws Error(message);
// parent(n, step_seconds) starts multi_step as the child workflow "<workflow_id>-child" and
// returns its result. The queue "serial" (registered in the system database after launch, as
// the SDK requires) runs one workflow at a time across the app. The schedule "yearly-tick" (cron
// 0 0 0 1 1 *: it never fires during a test unless triggered) runs ticking, one marked step.
//
// The same file runs on two installs: this directory's (5.2.11, DBOS's own Conductor client) and,
// with BATON_TEST_INSTALL_DIR=tests/clients/typescript-connector, 5.3.0 with Baton's connector
// (connectors/typescript): the SDK and the connector are required from that directory. With
// BATON_TEST_CONNECTOR=1 the app connects the way an application on 5.3+ does: no conductor key
// to DBOS.launch, a fresh executorID, and `await connect(url, key)` after launch; on SIGTERM
// `await handle.stop()` follows DBOS.shutdown(). BATON_TEST_CONNECTOR_RECOVERY (a Strategy value)
// forces its recovery path.
//
// stdout carries only the READY line: everything else this process writes to stdout (the SDK's
// logs) is sent to stderr.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const util = require('node:util');
const { randomUUID } = require('node:crypto');
const { createRequire } = require('node:module');

const installRequire = process.env.BATON_TEST_INSTALL_DIR
  ? createRequire(path.join(path.resolve(process.env.BATON_TEST_INSTALL_DIR), 'package.json'))
  : require;
const { DBOS } = installRequire('@dbos-inc/dbos-sdk');

const SHUTDOWN_DEADLINE_MS = 5000;
const SERIAL_QUEUE = 'serial';
const SCHEDULE_NAME = 'yearly-tick';
const SCHEDULE_CRON = '0 0 0 1 1 *';

const writeStdout = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is required`);
  }
  return value;
}

const settings = {
  appName: required('BATON_TEST_APP_NAME'),
  systemDbUrl: required('BATON_TEST_SYSTEM_DB_URL'),
  markerDir: required('BATON_TEST_MARKER_DIR'),
  conductorUrl: process.env.BATON_TEST_CONDUCTOR_URL || undefined,
  conductorKey: process.env.BATON_TEST_CONDUCTOR_KEY || undefined,
  appVersion: process.env.BATON_TEST_APP_VERSION || undefined,
  controlPort: Number(process.env.BATON_TEST_CONTROL_PORT || '0'),
  logLevel: (process.env.BATON_TEST_LOG_LEVEL || 'INFO').toLowerCase(),
  useConnector: process.env.BATON_TEST_CONNECTOR === '1',
  connectorRecovery: process.env.BATON_TEST_CONNECTOR_RECOVERY || undefined,
};

function sleepMs(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function appendMarker(workflowId, stepNo) {
  const line = `${workflowId} ${stepNo} ${DBOS.executorID}\n`;
  // One write + fsync per line so a SIGKILL right after the step never loses its marker.
  const fd = fs.openSync(path.join(settings.markerDir, `${workflowId}.steps`), 'a');
  try {
    fs.writeSync(fd, line);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const markedStep = DBOS.registerStep(
  async (workflowId, stepNo, stepSeconds) => {
    appendMarker(workflowId, stepNo);
    await sleepMs(stepSeconds * 1000);
    return DBOS.executorID;
  },
  { name: 'marked_step' },
);

const multiStep = DBOS.registerWorkflow(
  async (n, stepSeconds) => {
    const workflowId = DBOS.workflowID;
    const ranBy = [];
    for (let stepNo = 1; stepNo <= n; stepNo += 1) {
      ranBy.push(await markedStep(workflowId, stepNo, stepSeconds));
    }
    return `${workflowId} ran ${n} steps: ${ranBy.join(' ')}`;
  },
  { name: 'multi_step' },
);

const quick = DBOS.registerWorkflow(async (x) => x * 2, { name: 'quick' });

const prepare = DBOS.registerStep(async (message) => message.length, { name: 'prepare' });

const failing = DBOS.registerWorkflow(
  async (message) => {
    await prepare(message);
    throw new Error(message);
  },
  { name: 'failing' },
);

const parent = DBOS.registerWorkflow(
  async (n, stepSeconds) => {
    const child = await DBOS.startWorkflow(multiStep, { workflowID: `${DBOS.workflowID}-child` })(
      n,
      stepSeconds,
    );
    return `parent of ${await child.getResult()}`;
  },
  { name: 'parent' },
);

const tickStep = DBOS.registerStep(async (workflowId) => appendMarker(workflowId, 1), { name: 'tick_step' });

const ticking = DBOS.registerWorkflow(
  async (_scheduledAt, _context) => {
    await tickStep(DBOS.workflowID);
  },
  { name: 'ticking' },
);

// Workflow name -> [function, [[query parameter, converter], ...]] (positional arguments).
const WORKFLOWS = {
  multi_step: [multiStep, [['n', Number], ['step_seconds', Number]]],
  quick: [quick, [['x', Number]]],
  failing: [failing, [['message', String]]],
  parent: [parent, [['n', Number], ['step_seconds', Number]]],
};

class BadRequest extends Error {}

async function startWorkflow(query) {
  const entry = WORKFLOWS[query.get('workflow')];
  if (entry === undefined) {
    throw new BadRequest(`unknown workflow ${query.get('workflow')}`);
  }
  const [fn, params] = entry;
  const args = params.map(([name, convert]) => {
    if (!query.has(name)) {
      throw new BadRequest(`missing parameter ${name}`);
    }
    const value = convert(query.get(name));
    if (typeof value === 'number' && Number.isNaN(value)) {
      throw new BadRequest(`parameter ${name} is not a number`);
    }
    return value;
  });
  const queue = query.get('queue');
  if (queue !== null && queue !== SERIAL_QUEUE) {
    throw new BadRequest(`unknown queue ${queue}`);
  }
  const workflowID = query.get('id') || undefined;
  const options = queue === null ? { workflowID } : { workflowID, queueName: queue };
  await DBOS.startWorkflow(fn, options)(...args);
  return { workflow_id: workflowID };
}

function readable(value) {
  return value === undefined || value === null ? null : util.inspect(value);
}

async function describeWorkflow(workflowId) {
  const status = await DBOS.getWorkflowStatus(workflowId);
  if (status === null) {
    return null;
  }
  return {
    workflow_id: status.workflowID,
    status: status.status,
    executor_id: status.executorId ?? null,
    app_version: status.applicationVersion ?? null,
    output: readable(status.output),
    error: readable(status.error),
  };
}

async function forksOf(workflowId) {
  const forks = await DBOS.listWorkflows({ forkedFrom: workflowId, loadInput: false, loadOutput: false });
  return { workflow_ids: forks.map((status) => status.workflowID) };
}

async function handle(method, url) {
  const query = url.searchParams;
  const route = `${method} ${url.pathname}`;
  switch (route) {
    case 'GET /executor':
      return [
        200,
        { executor_id: DBOS.executorID, app_version: DBOS.applicationVersion, app_name: settings.appName },
      ];
    case 'POST /start':
      return [200, await startWorkflow(query)];
    case 'GET /status': {
      const described = await describeWorkflow(query.get('id') || '');
      return described === null ? [404, { error: 'unknown workflow' }] : [200, described];
    }
    case 'POST /cancel':
      await DBOS.cancelWorkflow(query.get('id') || '');
      return [200, { workflow_id: query.get('id') || '' }];
    case 'GET /forks':
      return [200, await forksOf(query.get('id') || '')];
    case 'POST /send':
      if (!query.has('message')) {
        throw new BadRequest('no message');
      }
      await DBOS.send(query.get('id') || '', query.get('message'), query.get('topic') || undefined);
      return [200, { workflow_id: query.get('id') || '' }];
    case 'GET /events':
    case 'GET /schedules':
      return [501, { error: `${route} is not implemented by the TypeScript client app` }];
    default:
      return [404, { error: 'not found' }];
  }
}

function serve(request, response) {
  const url = new URL(request.url, 'http://127.0.0.1');
  handle(request.method, url)
    .catch((error) =>
      error instanceof BadRequest
        ? [400, { error: `bad request: ${error.message}` }]
        : [500, { error: util.inspect(error) }],
    )
    .then(([code, body]) => {
      const data = JSON.stringify(body);
      response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
      response.end(data);
    });
}

// With the connector: connect after launch; resolves to what stops it (a no-op without).
async function connect() {
  if (!settings.useConnector || settings.conductorUrl === undefined) {
    return async () => {};
  }
  const { connect: connectToBaton } = installRequire('baton-connector');
  const handle = await connectToBaton(settings.conductorUrl, settings.conductorKey || '', {
    recovery: settings.connectorRecovery,
  });
  return () => handle.stop();
}

async function shutdown(server, stopConnector) {
  // A watchdog guards against a shutdown that blocks; past it the process exits anyway.
  setTimeout(() => process.exit(3), SHUTDOWN_DEADLINE_MS).unref();
  server.close();
  server.closeAllConnections();
  await DBOS.shutdown();
  await stopConnector(); // after shutdown: the session stays open while DBOS drains
  process.exit(0);
}

async function main() {
  fs.mkdirSync(settings.markerDir, { recursive: true });
  DBOS.setConfig({
    name: settings.appName,
    systemDatabaseUrl: settings.systemDbUrl,
    applicationVersion: settings.appVersion,
    logLevel: settings.logLevel,
    runAdminServer: false,
    ...(settings.useConnector ? { executorID: randomUUID() } : {}),
  });
  if (settings.useConnector) {
    await DBOS.launch();
  } else {
    await DBOS.launch({ conductorURL: settings.conductorUrl, conductorKey: settings.conductorKey });
  }
  await DBOS.registerQueue(SERIAL_QUEUE, { concurrency: 1 });
  await DBOS.applySchedules([{ scheduleName: SCHEDULE_NAME, workflowFn: ticking, schedule: SCHEDULE_CRON }]);
  const stopConnector = await connect();
  const server = http.createServer(serve);
  await new Promise((resolve) => server.listen(settings.controlPort, '127.0.0.1', resolve));
  let stopping = false;
  const stop = () => {
    if (!stopping) {
      stopping = true;
      shutdown(server, stopConnector);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  writeStdout(`READY ${DBOS.executorID} ${server.address().port}\n`);
}

main().catch((error) => {
  process.stderr.write(`executor_app failed: ${util.inspect(error)}\n`);
  process.exit(1);
});
