// The DBOS Conductor wire protocol as the connector speaks it: request decoding, reply encoding
// and the JSON shapes of workflows, steps, schedules, versions and queues. The reference is the
// open client of @dbos-inc/dbos-sdk 5.2.11 (dist/src/conductor/protocol.js): same message types,
// same field names, values rendered with util.inspect, errors as serialize-error JSON.
//
// Pure: no DBOS, no socket, no clock. Decoding ignores unknown fields, as the stock client does,
// and throws only ProtocolError.
'use strict';

const { inspect } = require('node:util');
const { serializeError } = require('serialize-error');
const { ProtocolError } = require('./errors');

/** Every verb of the Conductor protocol (as of @dbos-inc/dbos-sdk 5.2.11). */
const MessageType = Object.freeze({
  EXECUTOR_INFO: 'executor_info',
  RECOVERY: 'recovery',
  CANCEL: 'cancel',
  DELETE: 'delete',
  LIST_WORKFLOWS: 'list_workflows',
  LIST_QUEUED_WORKFLOWS: 'list_queued_workflows',
  RESUME: 'resume',
  GET_WORKFLOW: 'get_workflow',
  EXIST_PENDING_WORKFLOWS: 'exist_pending_workflows',
  LIST_STEPS: 'list_steps',
  FORK_WORKFLOW: 'fork_workflow',
  RETENTION: 'retention',
  GET_METRICS: 'get_metrics',
  EXPORT_WORKFLOW: 'export_workflow',
  IMPORT_WORKFLOW: 'import_workflow',
  ALERT: 'alert',
  LIST_SCHEDULES: 'list_schedules',
  GET_SCHEDULE: 'get_schedule',
  PAUSE_SCHEDULE: 'pause_schedule',
  RESUME_SCHEDULE: 'resume_schedule',
  BACKFILL_SCHEDULE: 'backfill_schedule',
  TRIGGER_SCHEDULE: 'trigger_schedule',
  LIST_APPLICATION_VERSIONS: 'list_application_versions',
  SET_LATEST_APPLICATION_VERSION: 'set_latest_application_version',
  GET_WORKFLOW_EVENTS: 'get_workflow_events',
  GET_WORKFLOW_NOTIFICATIONS: 'get_workflow_notifications',
  GET_WORKFLOW_STREAMS: 'get_workflow_streams',
  GET_WORKFLOW_AGGREGATES: 'get_workflow_aggregates',
  GET_STEP_AGGREGATES: 'get_step_aggregates',
  FORK_FROM_FAILURE: 'fork_from_failure',
  LIST_QUEUES: 'list_queues',
  GET_QUEUE: 'get_queue',
  REWIND_WORKFLOW: 'rewind_workflow',
});

const KNOWN_TYPES = new Set(Object.values(MessageType));

/** The answer of every open DBOS client to a type it does not know (Baton reads it exactly). */
const UNKNOWN_TYPE = 'Unknown message type';

/** The phrase every refusal of a verb the public DBOS API cannot serve carries. */
const NOT_SUPPORTED = 'not supported by this client';

/** Never truncate: the stock client's rendering of inputs, outputs and contexts. */
const INSPECT_OPTIONS = Object.freeze({ depth: null, maxArrayLength: null, maxStringLength: null });

/** One request of the conductor: its type (possibly unknown), id, and the whole message. */
class Request {
  constructor(type, requestId, data) {
    this.type = type;
    this.requestId = requestId;
    this.data = data;
  }

  /** Field `name` of `source` (the message by default), or `fallback` when absent or null.
   * `kind` is a typeof name ('string', 'number', 'boolean', 'object') or 'array'.
   * @throws ProtocolError the field is present with another type. */
  field(name, kind, fallback = undefined, source = this.data) {
    const value = source[name];
    if (value === undefined || value === null) {
      return fallback;
    }
    const ok =
      kind === 'array'
        ? Array.isArray(value)
        : kind === 'integer'
          ? Number.isInteger(value)
          : typeof value === kind && !(kind === 'object' && Array.isArray(value));
    if (!ok) {
      throw new ProtocolError(`field '${name}' must be ${kind === 'integer' ? 'an integer' : `a ${kind}`}`);
    }
    return value;
  }

  /** The `body` object of a request that has one (empty when absent). */
  body() {
    return this.field('body', 'object', {});
  }

  /** `workflow_ids` if given, else `[workflow_id]` (cancel, delete, resume). */
  ids() {
    const many = this.field('workflow_ids', 'array');
    if (many !== undefined && many.length > 0) {
      return strings(many, 'workflow_ids');
    }
    return [this.field('workflow_id', 'string', '')];
  }
}

/** The items of `value`, checked to be strings. @throws ProtocolError */
function strings(value, name) {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new ProtocolError(`${name} must be a list of strings`);
  }
  return value;
}

/** A filter that DBOS accepts as one string or a list of strings, checked. @throws ProtocolError */
function oneOrMany(value, name) {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value === 'string') {
    return value;
  }
  return strings(value, name);
}

/** Parse one text frame. @throws ProtocolError not a JSON object with string type and request_id. */
function decode(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ProtocolError('a frame is not JSON');
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ProtocolError('a frame is not a JSON object');
  }
  if (typeof data.type !== 'string' || typeof data.request_id !== 'string') {
    throw new ProtocolError('a frame lacks its type or request_id');
  }
  return new Request(data.type, data.request_id, data);
}

/** The reply to `request` carrying `fields` (undefined fields are left out, as the stock client does). */
function encode(request, fields) {
  return JSON.stringify({ type: request.type, request_id: request.requestId, ...fields });
}

/** The fields of a failed reply (`success` for the verbs that have it, ignored by others). */
function errorFields(message) {
  return { success: false, error_message: message };
}

/** A value as the stock client renders it for Conductor (util.inspect, never truncated). */
function rendered(value) {
  return inspect(value, INSPECT_OPTIONS);
}

function renderedError(error) {
  return JSON.stringify(serializeError(error));
}

function text(value) {
  return value === undefined || value === null ? undefined : String(value);
}

/** A workflow (DBOS `WorkflowStatus`) as the stock client's `WorkflowsOutput` sends it. */
function workflowOutput(info) {
  return {
    WorkflowUUID: info.workflowID,
    Status: info.status,
    WorkflowName: info.workflowName,
    WorkflowClassName: info.workflowClassName || undefined,
    WorkflowConfigName: info.workflowConfigName || undefined,
    AuthenticatedUser: info.authenticatedUser || undefined,
    AssumedRole: info.assumedRole || undefined,
    AuthenticatedRoles:
      (info.authenticatedRoles ?? []).length > 0 ? JSON.stringify(info.authenticatedRoles) : undefined,
    Input: info.input ? rendered(info.input) : undefined,
    Output: info.output ? rendered(info.output) : undefined,
    Error: info.error ? renderedError(info.error) : undefined,
    CreatedAt: info.createdAt ? String(info.createdAt) : undefined,
    UpdatedAt: info.updatedAt ? String(info.updatedAt) : undefined,
    QueueName: info.queueName || undefined,
    ApplicationVersion: info.applicationVersion,
    ExecutorID: info.executorId,
    WorkflowTimeoutMS: text(info.timeoutMS),
    WorkflowDeadlineEpochMS: text(info.deadlineEpochMS),
    DeduplicationID: info.deduplicationID,
    Priority: String(info.priority),
    QueuePartitionKey: info.queuePartitionKey,
    DequeuedAt: text(info.dequeuedAt),
    ForkedFrom: info.forkedFrom,
    WasForkedFrom: info.wasForkedFrom ?? false,
    ParentWorkflowID: info.parentWorkflowID,
    DelayUntilEpochMS: text(info.delayUntilEpochMS),
    CompletedAt: text(info.completedAt),
    // JSON rather than inspect(), as the stock client sends it.
    Attributes: info.attributes !== undefined ? JSON.stringify(info.attributes) : undefined,
    ScheduleName: info.scheduleName,
    ApplicationName: info.applicationName,
  };
}

/** A step (DBOS `StepInfo`) as the stock client's `WorkflowSteps` sends it. */
function stepOutput(step, loadOutput) {
  return {
    function_id: step.functionID,
    function_name: step.name,
    output: loadOutput && step.output ? rendered(step.output) : undefined,
    error: step.error ? renderedError(step.error) : undefined,
    child_workflow_id: step.childWorkflowID ?? undefined,
    started_at_epoch_ms: text(step.startedAtEpochMs),
    completed_at_epoch_ms: text(step.completedAtEpochMs),
  };
}

/** A schedule (DBOS `WorkflowSchedule`, its context already deserialized). */
function scheduleOutput(schedule, loadContext) {
  return {
    schedule_id: schedule.scheduleId,
    schedule_name: schedule.scheduleName,
    workflow_name: schedule.workflowName,
    workflow_class_name: schedule.workflowClassName || undefined,
    schedule: schedule.schedule,
    status: schedule.status,
    context: loadContext ? rendered(schedule.context) : undefined,
    last_fired_at: schedule.lastFiredAt,
    automatic_backfill: schedule.automaticBackfill,
    cron_timezone: schedule.cronTimezone,
    queue_name: schedule.queueName,
    application_name: schedule.applicationName ?? null,
  };
}

/** An application version (DBOS `VersionInfo`). */
function versionOutput(version) {
  return {
    version_id: version.versionId,
    version_name: version.versionName,
    version_timestamp: version.versionTimestamp,
    created_at: version.createdAt,
  };
}

/** A queue (DBOS `WorkflowQueue`) as the stock client's queue output sends it. */
function queueOutput(queue) {
  const partitioned = [queue.partitionConcurrency, queue.partitionWorkerConcurrency, queue.partitionRateLimit].some(
    (value) => value !== undefined && value !== null,
  );
  return {
    name: queue.name,
    concurrency: queue.concurrency,
    worker_concurrency: queue.workerConcurrency,
    rate_limit_max: queue.rateLimit?.limitPerPeriod,
    rate_limit_period_sec: queue.rateLimit?.periodSec,
    priority_enabled: true,
    partition_queue: partitioned,
    polling_interval_sec: queue.minPollingIntervalMs === undefined ? undefined : queue.minPollingIntervalMs / 1000,
    application_name: queue.applicationName ?? null,
    partition_concurrency: queue.partitionConcurrency,
    partition_worker_concurrency: queue.partitionWorkerConcurrency,
    partition_rate_limit_max: queue.partitionRateLimit?.limitPerPeriod,
    partition_rate_limit_period_sec: queue.partitionRateLimit?.periodSec,
  };
}

module.exports = {
  MessageType,
  KNOWN_TYPES,
  UNKNOWN_TYPE,
  NOT_SUPPORTED,
  Request,
  decode,
  encode,
  errorFields,
  oneOrMany,
  strings,
  workflowOutput,
  stepOutput,
  scheduleOutput,
  versionOutput,
  queueOutput,
};
