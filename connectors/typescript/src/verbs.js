// Each Conductor verb served through DBOS's public API (@dbos-inc/dbos-sdk 5.3): the connector's
// one adapter of the SDK.
//
// `Verbs.answer` takes a decoded request and resolves to the reply's fields; an exception of a
// DBOS call becomes an `error_message` (its name and message, never a stack). What the public
// API cannot serve answers "<verb> is not supported by this client ..."; the README lists each
// limit. The one internal call is `DBOSExecutor.recoverPendingWorkflows`, used where
// `recovery.STRATEGY_BY_MINOR` says it was tested.
'use strict';

const os = require('node:os');
const { DBOS } = require('@dbos-inc/dbos-sdk');
const protocol = require('./protocol');
const recovery = require('./recovery');
const { ConfigError, NotSupported, ProtocolError } = require('./errors');

const { MessageType } = protocol;

/** The statuses retention may delete (DBOS's garbage collection keeps the active ones). */
const TERMINAL_STATUSES = ['SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'];
/** The statuses a global timeout cancels. */
const ACTIVE_STATUSES = ['PENDING', 'ENQUEUED', 'DELAYED'];
/** Workflows listed and deleted per round of retention when the request names no batch size. */
const RETENTION_BATCH = 1000;

const UNSUPPORTED = Object.freeze({
  [MessageType.GET_METRICS]: '5.3 removed metrics from the open SDK',
  [MessageType.GET_WORKFLOW_AGGREGATES]: '5.3 removed aggregates from the open SDK',
  [MessageType.GET_STEP_AGGREGATES]: '5.3 removed aggregates from the open SDK',
  [MessageType.EXPORT_WORKFLOW]: '5.3 removed workflow export from the open SDK',
  [MessageType.IMPORT_WORKFLOW]: '5.3 removed workflow import from the open SDK',
  [MessageType.GET_WORKFLOW_EVENTS]: "no public call lists a workflow's events",
  [MessageType.GET_WORKFLOW_NOTIFICATIONS]: "no public call lists a workflow's messages",
  [MessageType.GET_WORKFLOW_STREAMS]: "no public call lists a workflow's streams",
  [MessageType.ALERT]: 'the connector has no alert handler',
});

/** The internal executor class, if this SDK exports it under `internal/` (null otherwise). */
function internalExecutor() {
  try {
    const { DBOSExecutor } = require('@dbos-inc/dbos-sdk/internal/dbos-executor');
    return typeof DBOSExecutor?.globalInstance?.recoverPendingWorkflows === 'function' ? DBOSExecutor : null;
  } catch {
    return null;
  }
}

/** The DBOS side of every verb, for the launched DBOS of this process. */
class Verbs {
  /**
   * @param {{ sdkVersion: string, executorMetadata?: object, strategy?: string }} options
   * @throws ConfigError `strategy` names the internal call on an SDK without it, or is unknown.
   */
  constructor({ sdkVersion, executorMetadata, strategy }) {
    const executor = internalExecutor();
    if (strategy !== undefined && !Object.values(recovery.Strategy).includes(strategy)) {
      throw new ConfigError(`unknown recovery strategy ${JSON.stringify(strategy)}`);
    }
    if (strategy === recovery.Strategy.PRIVATE_RECOVER && executor === null) {
      throw new ConfigError(`@dbos-inc/dbos-sdk ${sdkVersion} has no DBOSExecutor.recoverPendingWorkflows`);
    }
    this.strategy = strategy ?? recovery.choose(sdkVersion, executor !== null);
    this.sdkVersion = sdkVersion;
    this.executor = executor;
    this.metadata = { ...(executorMetadata ?? {}), recovery: this.strategy };
    this.retentionRound = undefined;
  }

  /** The reply fields for `request` (an error's fields when it failed); never rejects. */
  async answer(request) {
    if (!protocol.KNOWN_TYPES.has(request.type)) {
      return { error_message: protocol.UNKNOWN_TYPE };
    }
    try {
      return await this.dispatch(request.type, request);
    } catch (error) {
      if (error instanceof NotSupported) {
        return protocol.errorFields(error.message);
      }
      if (error instanceof ProtocolError) {
        return protocol.errorFields(`bad ${request.type} request: ${error.message}`);
      }
      const name = error instanceof Error ? error.name : typeof error;
      const message = error instanceof Error ? error.message : String(error);
      DBOS.logger.warn(`baton-connector: ${request.type} failed: ${name}`);
      return protocol.errorFields(`${request.type} failed: ${name}: ${message}`);
    }
  }

  async dispatch(verb, r) {
    switch (verb) {
      case MessageType.EXECUTOR_INFO:
        return this.executorInfo();
      case MessageType.RECOVERY:
        return this.recover(r);
      case MessageType.CANCEL:
        await DBOS.cancelWorkflows(r.ids(), { cancelChildren: r.field('cancel_children', 'boolean', false) });
        return { success: true };
      case MessageType.DELETE:
        await DBOS.deleteWorkflows(r.ids(), r.field('delete_children', 'boolean', false));
        return { success: true };
      case MessageType.RESUME:
        await DBOS.resumeWorkflows(r.ids(), { queueName: r.field('queue_name', 'string') });
        return { success: true };
      case MessageType.LIST_WORKFLOWS:
        return { output: await listWorkflows(r, false) };
      case MessageType.LIST_QUEUED_WORKFLOWS:
        return { output: await listWorkflows(r, true) };
      case MessageType.GET_WORKFLOW:
        return { output: await getWorkflow(r) };
      case MessageType.EXIST_PENDING_WORKFLOWS:
        return { exist: await existPending(r) };
      case MessageType.LIST_STEPS:
        return { output: await listSteps(r) };
      case MessageType.FORK_WORKFLOW:
        return { new_workflow_id: await fork(r) };
      case MessageType.FORK_FROM_FAILURE:
        return { forked_workflow_ids: await forkFromFailure(r) };
      case MessageType.REWIND_WORKFLOW:
        return rewind(r);
      case MessageType.RETENTION:
        return this.retention(r);
      case MessageType.LIST_SCHEDULES:
        return { output: await listSchedules(r) };
      case MessageType.GET_SCHEDULE: {
        const schedule = await DBOS.getSchedule(r.field('schedule_name', 'string', ''));
        return {
          output: schedule === null ? undefined : protocol.scheduleOutput(schedule, r.field('load_context', 'boolean', true)),
        };
      }
      case MessageType.PAUSE_SCHEDULE:
        await DBOS.pauseSchedule(r.field('schedule_name', 'string', ''));
        return { success: true };
      case MessageType.RESUME_SCHEDULE:
        await DBOS.resumeSchedule(r.field('schedule_name', 'string', ''));
        return { success: true };
      case MessageType.BACKFILL_SCHEDULE:
        return { workflow_ids: await backfill(r) };
      case MessageType.TRIGGER_SCHEDULE: {
        const handle = await DBOS.triggerSchedule(r.field('schedule_name', 'string', ''));
        return { workflow_id: handle.workflowID };
      }
      case MessageType.LIST_APPLICATION_VERSIONS:
        return { output: (await DBOS.listApplicationVersions()).map(protocol.versionOutput) };
      case MessageType.SET_LATEST_APPLICATION_VERSION:
        await DBOS.setLatestApplicationVersion(r.field('version_name', 'string', ''));
        return { success: true };
      case MessageType.LIST_QUEUES: {
        const names = protocol.oneOrMany(r.body().application_name, 'application_name');
        return { output: (await DBOS.listQueues(names)).map(protocol.queueOutput) };
      }
      case MessageType.GET_QUEUE: {
        const queue = await DBOS.retrieveQueue(r.field('name', 'string', ''));
        return { output: queue === null ? null : protocol.queueOutput(queue) };
      }
      default:
        throw new NotSupported(
          `${verb} is ${protocol.NOT_SUPPORTED} (baton-connector on @dbos-inc/dbos-sdk ` +
            `${this.sdkVersion}: ${UNSUPPORTED[verb] ?? 'no public API'})`,
        );
    }
  }

  /** Who this executor is, as the stock client reports it. */
  executorInfo() {
    return {
      executor_id: DBOS.executorID,
      application_version: DBOS.applicationVersion,
      hostname: os.hostname(),
      language: 'typescript',
      dbos_version: this.sdkVersion,
      executor_metadata: this.metadata,
    };
  }

  /** `retention`, one round at a time on this executor: a request while one runs is answered
   * at once and skipped, as the stock client does. */
  async retention(r) {
    if (this.retentionRound !== undefined) {
      DBOS.logger.warn('baton-connector: skipping retention: the previous round is still running');
      return { success: true };
    }
    this.retentionRound = retention(r);
    try {
      return await this.retentionRound;
    } finally {
      this.retentionRound = undefined;
    }
  }

  /** Take over the PENDING workflows of the named (dead) executors (`recovery`). */
  async recover(r) {
    const executorIds = protocol.strings(r.field('executor_ids', 'array', []), 'executor_ids');
    if (this.strategy === recovery.Strategy.PRIVATE_RECOVER) {
      await this.executor.globalInstance.recoverPendingWorkflows(executorIds);
    } else {
      await recoverPublicly(executorIds);
    }
    DBOS.logger.info(`baton-connector: recovery of ${executorIds.join(', ')} requested (${this.strategy})`);
    return { success: true };
  }
}

const LIST_FILTERS = Object.freeze({
  workflow_name: 'workflowName',
  authenticated_user: 'authenticatedUser',
  application_version: 'applicationVersion',
  status: 'status',
  forked_from: 'forkedFrom',
  parent_workflow_id: 'parentWorkflowID',
  queue_name: 'queueName',
  workflow_id_prefix: 'workflow_id_prefix',
  executor_id: 'executorId',
  schedule_name: 'scheduleName',
  application_name: 'applicationName',
});
const LIST_TIMES = Object.freeze({
  start_time: 'startTime',
  end_time: 'endTime',
  completed_after: 'completedAfter',
  completed_before: 'completedBefore',
  dequeued_after: 'dequeuedAfter',
  dequeued_before: 'dequeuedBefore',
});

/** `list_workflows` / `list_queued_workflows`: every filter of the body, through
 * `DBOS.listWorkflows` / `DBOS.listQueuedWorkflows` (input and output only when asked). */
async function listWorkflows(r, queuedOnly) {
  const body = r.body();
  const input = {};
  for (const [field, option] of Object.entries(LIST_FILTERS)) {
    input[option] = protocol.oneOrMany(body[field], field);
  }
  for (const [field, option] of Object.entries(LIST_TIMES)) {
    input[option] = r.field(field, 'string', undefined, body);
  }
  const ids = r.field('workflow_uuids', 'array', undefined, body);
  input.workflowIDs = ids === undefined ? undefined : protocol.strings(ids, 'workflow_uuids');
  input.limit = r.field('limit', 'integer', undefined, body);
  input.offset = r.field('offset', 'integer', undefined, body);
  input.sortDesc = r.field('sort_desc', 'boolean', false, body);
  input.loadInput = r.field('load_input', 'boolean', false, body);
  input.loadOutput = r.field('load_output', 'boolean', false, body);
  input.wasForkedFrom = r.field('was_forked_from', 'boolean', undefined, body);
  input.hasParent = r.field('has_parent', 'boolean', undefined, body);
  input.attributes = r.field('attributes', 'object', undefined, body);
  if (!queuedOnly) {
    input.queuesOnly = r.field('queues_only', 'boolean', undefined, body);
  }
  const found = queuedOnly ? await DBOS.listQueuedWorkflows(input) : await DBOS.listWorkflows(input);
  return found.map(protocol.workflowOutput);
}

/** `get_workflow`: `DBOS.listWorkflows` of one id (it has the load flags). */
async function getWorkflow(r) {
  const found = await DBOS.listWorkflows({
    workflowIDs: [r.field('workflow_id', 'string', '')],
    loadInput: r.field('load_input', 'boolean', true),
    loadOutput: r.field('load_output', 'boolean', true),
  });
  return found.length > 0 ? protocol.workflowOutput(found[0]) : undefined;
}

/** `exist_pending_workflows`: a PENDING workflow of that executor and version, if any. */
async function existPending(r) {
  const found = await DBOS.listWorkflows({
    status: 'PENDING',
    executorId: r.field('executor_id', 'string', ''),
    applicationVersion: r.field('application_version', 'string', ''),
    limit: 1,
    loadInput: false,
    loadOutput: false,
  });
  return found.length > 0;
}

/** `list_steps`: `DBOS.listWorkflowSteps` (which always loads outputs; left out of the reply
 * when `load_output` is false). */
async function listSteps(r) {
  const steps = await DBOS.listWorkflowSteps(r.field('workflow_id', 'string', ''), {
    limit: r.field('limit', 'integer'),
    offset: r.field('offset', 'integer'),
  });
  const loadOutput = r.field('load_output', 'boolean', true);
  return steps?.map((step) => protocol.stepOutput(step, loadOutput));
}

function required(r, body, name, kind) {
  const value = r.field(name, kind, undefined, body);
  if (value === undefined) {
    throw new ProtocolError(`field '${name}' is missing`);
  }
  return value;
}

function placement(r, body) {
  return {
    applicationVersion: r.field('application_version', 'string', undefined, body),
    queueName: r.field('queue_name', 'string', undefined, body),
    queuePartitionKey: r.field('queue_partition_key', 'string', undefined, body),
  };
}

/** `fork_workflow`: `DBOS.forkWorkflow` under the requested new id (or DBOS's own). */
async function fork(r) {
  const body = r.body();
  const handle = await DBOS.forkWorkflow(required(r, body, 'workflow_id', 'string'), required(r, body, 'start_step', 'integer'), {
    newWorkflowID: r.field('new_workflow_id', 'string', undefined, body),
    ...placement(r, body),
  });
  return handle.workflowID;
}

/** `fork_from_failure` rebuilt from `DBOS.listWorkflowSteps` + `DBOS.forkWorkflow`: each workflow
 * forks from the step the 5.2 SDK picks (see `startStepOf`), under a new id of DBOS's. */
async function forkFromFailure(r) {
  const body = r.body();
  const ids = protocol.strings(r.field('workflow_ids', 'array', [], body), 'workflow_ids');
  const mode = forkMode(r, body);
  const starts = [];
  for (const workflowId of ids) {
    starts.push(await startStepOf(r, body, workflowId, mode));
  }
  const forked = [];
  for (const [i, workflowId] of ids.entries()) {
    forked.push((await DBOS.forkWorkflow(workflowId, starts[i], placement(r, body))).workflowID);
  }
  return forked;
}

function forkMode(r, body) {
  const modes = [
    ['from_last_failure', r.field('from_last_failure', 'boolean', false, body)],
    ['from_last_step', r.field('from_last_step', 'boolean', false, body)],
    ['from_step', r.field('from_step', 'integer', undefined, body) !== undefined],
    ['from_step_name', r.field('from_step_name', 'string', undefined, body) !== undefined],
  ].filter(([, chosen]) => chosen);
  if (modes.length !== 1) {
    throw new ProtocolError('exactly one of from_last_failure, from_last_step, from_step, from_step_name');
  }
  return modes[0][0];
}

/** The step a fork from failure starts at, as the 5.2 SDK's `forkFromFailure` picks it: the last
 * failed step (else the last step), the last step, the given step, or the last step of the given
 * name; a workflow without steps starts from 0. */
async function startStepOf(r, body, workflowId, mode) {
  if (mode === 'from_step') {
    return r.field('from_step', 'integer', undefined, body);
  }
  const steps = (await DBOS.listWorkflowSteps(workflowId)) ?? [];
  const last = (list) => list.reduce((max, step) => Math.max(max, step.functionID), -1);
  if (mode === 'from_step_name') {
    const name = r.field('from_step_name', 'string', undefined, body);
    const named = last(steps.filter((step) => step.name === name));
    if (named < 0) {
      throw new Error(`Workflow ${workflowId} has no step named '${name}'`);
    }
    return named;
  }
  const failed = last(steps.filter((step) => step.error !== null && step.error !== undefined));
  if (mode === 'from_last_failure' && failed >= 0) {
    return failed;
  }
  return Math.max(0, last(steps));
}

/** `rewind_workflow`: `DBOS.rewindWorkflow` (public in 5.3). */
async function rewind(r) {
  const body = r.body();
  await DBOS.rewindWorkflow(required(r, body, 'workflow_id', 'string'), {
    startStep: r.field('start_step', 'integer', 0, body),
    ...placement(r, body),
  });
  return { success: true };
}

/** `retention` rebuilt from `DBOS.listWorkflows` + `DBOS.deleteWorkflows` (garbage collection of
 * finished workflows: completed before the cutoff, or past the newest N) and
 * `DBOS.cancelWorkflows` (global timeout: active workflows created before the cutoff). */
async function retention(r) {
  const body = r.body();
  const cutoffMs = r.field('gc_cutoff_epoch_ms', 'integer', undefined, body);
  const rows = r.field('gc_rows_threshold', 'integer', undefined, body);
  const batch = r.field('gc_batch_size', 'integer', undefined, body) || RETENTION_BATCH;
  if (cutoffMs !== undefined) {
    await deleteAll(() => finished({ completedBefore: iso(cutoffMs), limit: batch }));
  }
  if (rows !== undefined) {
    await deleteAll(() => finished({ offset: rows, limit: batch, sortDesc: true }));
  }
  const timeoutMs = r.field('timeout_cutoff_epoch_ms', 'integer', undefined, body);
  if (timeoutMs !== undefined) {
    const late = await DBOS.listWorkflows({
      status: ACTIVE_STATUSES,
      endTime: iso(timeoutMs),
      loadInput: false,
      loadOutput: false,
    });
    if (late.length > 0) {
      await DBOS.cancelWorkflows(late.map((w) => w.workflowID));
    }
  }
  return { success: true };
}

async function finished(input) {
  const found = await DBOS.listWorkflows({ status: TERMINAL_STATUSES, loadInput: false, loadOutput: false, ...input });
  return found.map((w) => w.workflowID);
}

async function deleteAll(batch) {
  for (let ids = await batch(); ids.length > 0; ids = await batch()) {
    await DBOS.deleteWorkflows(ids);
  }
}

function iso(epochMs) {
  return new Date(epochMs).toISOString();
}

/** `list_schedules`: `DBOS.listSchedules` with its filters. */
async function listSchedules(r) {
  const body = r.body();
  const schedules = await DBOS.listSchedules({
    status: protocol.oneOrMany(body.status, 'status'),
    workflowName: protocol.oneOrMany(body.workflow_name, 'workflow_name'),
    scheduleNamePrefix: protocol.oneOrMany(body.schedule_name_prefix, 'schedule_name_prefix'),
    applicationName: protocol.oneOrMany(body.application_name, 'application_name'),
  });
  const loadContext = r.field('load_context', 'boolean', true, body);
  return schedules.map((schedule) => protocol.scheduleOutput(schedule, loadContext));
}

/** `backfill_schedule`: `DBOS.backfillSchedule` between two ISO 8601 times. */
async function backfill(r) {
  const start = new Date(r.field('start', 'string', ''));
  const end = new Date(r.field('end', 'string', ''));
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) {
    throw new ProtocolError('start and end must be ISO 8601 times');
  }
  const handles = await DBOS.backfillSchedule(r.field('schedule_name', 'string', ''), start, end);
  return handles.map((handle) => handle.workflowID);
}

/** The public substitute of recovery (see `recovery`): resume each PENDING workflow of the dead
 * executors and of this application version onto its original queue. */
async function recoverPublicly(executorIds) {
  if (executorIds.length === 0) {
    return;
  }
  const pending = await DBOS.listWorkflows({
    status: 'PENDING',
    executorId: executorIds,
    applicationVersion: DBOS.applicationVersion,
    loadInput: false,
    loadOutput: false,
  });
  for (const workflow of pending) {
    await DBOS.resumeWorkflows([workflow.workflowID], { queueName: workflow.queueName });
  }
}

module.exports = { Verbs, UNSUPPORTED, TERMINAL_STATUSES, ACTIVE_STATUSES };
