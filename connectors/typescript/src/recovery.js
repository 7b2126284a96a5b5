// How this connector recovers another executor's PENDING workflows, per SDK minor version.
//
// The Conductor `recovery` verb asks an executor to take over the PENDING workflows of dead
// executors. DBOS has no public call for it: the stock client (5.2) calls the internal
// `DBOSExecutor.recoverPendingWorkflows(executorIDs)`, which re-enqueues each workflow that is
// still PENDING *and still owned by the dead executor* of this application version (the update
// is conditional on its executor id, so a duplicate or late request changes nothing), and keeps
// its recovery attempts, deadline and deduplication id.
//
// The public substitute lists the dead executors' PENDING workflows of this application version
// (`DBOS.listWorkflows`) and `DBOS.resumeWorkflows` each onto its original queue. It is weaker:
// not conditional on the executor id (a workflow another executor took over between the list and
// the resume is resumed again), and it resets recovery attempts and clears the deadline and the
// deduplication id.
//
// STRATEGY_BY_MINOR names the path tested for each SDK minor version the connector declares; an
// undeclared version, or a release without the internal call, takes the public path.
//
// Pure: requires nothing.
'use strict';

const Strategy = Object.freeze({
  /** `DBOSExecutor.recoverPendingWorkflows(executorIDs)`: what the stock client does. */
  PRIVATE_RECOVER: 'private_recover',
  /** `DBOS.listWorkflows` + `DBOS.resumeWorkflows` (see above). */
  PUBLIC_RESUME: 'public_resume',
});

/** The conformance tier runs recovery through the connector on each of these versions. */
const STRATEGY_BY_MINOR = Object.freeze({
  '5.3': Strategy.PRIVATE_RECOVER,
});

/** `"<major>.<minor>"` of a version string like `5.3.0`; null if it is not one. */
function minorOf(version) {
  const match = /^(\d+)\.(\d+)(?:\.|$)/.exec(String(version));
  return match === null ? null : `${Number(match[1])}.${Number(match[2])}`;
}

/** The strategy for `sdkVersion`: the table's, or the public path when the version is not in it
 * or the internal call is missing. */
function choose(sdkVersion, hasPrivateCall) {
  const minor = minorOf(sdkVersion);
  const strategy = minor === null ? undefined : STRATEGY_BY_MINOR[minor];
  if (strategy === Strategy.PRIVATE_RECOVER && hasPrivateCall) {
    return strategy;
  }
  return Strategy.PUBLIC_RESUME;
}

module.exports = { Strategy, STRATEGY_BY_MINOR, minorOf, choose };
