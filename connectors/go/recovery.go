package batonconnector

// Recovery: how the connector takes over a dead executor's PENDING workflows when Baton sends
// `recovery` with its executor ids.

import (
	"github.com/dbos-inc/dbos-transact-golang/dbos"
	"github.com/dbos-inc/dbos-transact-golang/dbos/internals"
)

// Strategy names the recovery path in use (reported in executor_metadata["recovery"]).
type Strategy string

const (
	// RuntimeRecover calls RecoverPendingWorkflows of dbos/internals.Runtime, the call DBOS's own
	// client made (v1.6.0's handleRecoveryRequest): it re-enqueues each workflow still PENDING
	// and still owned by the dead executor, on this application version, conditionally on the
	// executor id, so a duplicate or late request changes nothing; recovery attempts, deadlines
	// and deduplication ids are kept. dbos/internals is part of the open (MIT) module, which
	// exports it for a Conductor client; every Context from dbos.NewContext implements it.
	RuntimeRecover Strategy = "runtime_recover"
	// PublicResume is the fallback for a Context without that runtime view: list the dead
	// executors' PENDING workflows of this application version and resume each onto its
	// original queue (dbos.ResumeWorkflows). Weaker: not conditional on the executor id, and it
	// resets recovery attempts.
	PublicResume Strategy = "public_resume"
)

// runtimeOf is the runtime view of a Context from dbos.NewContext (nil for any other).
func runtimeOf(ctx dbos.Context) internals.Runtime {
	runtime, err := internals.RuntimeOf(ctx)
	if err != nil {
		return nil
	}
	return runtime
}

func (v *verbs) recover(executorIDs []string) error {
	if v.runtime != nil && v.strategy == RuntimeRecover {
		_, err := v.runtime.RecoverPendingWorkflows(executorIDs)
		return err
	}
	return recoverPublicly(v.ctx, executorIDs)
}

func recoverPublicly(ctx dbos.Context, executorIDs []string) error {
	if len(executorIDs) == 0 {
		return nil
	}
	pending, err := dbos.ListWorkflows(ctx,
		dbos.WithFilterStatus(dbos.WorkflowStatusPending),
		dbos.WithFilterExecutorIDs(executorIDs...),
		dbos.WithFilterAppVersion(ctx.GetApplicationVersion()),
		dbos.WithFilterLoadInput(false), dbos.WithFilterLoadOutput(false))
	if err != nil {
		return err
	}
	for _, workflow := range pending {
		var opts []dbos.ResumeWorkflowOption
		if workflow.QueueName != "" {
			opts = append(opts, dbos.WithResumeQueue(workflow.QueueName))
		}
		if _, err := ctx.ResumeWorkflows(ctx, []string{workflow.ID}, opts...); err != nil {
			return err
		}
	}
	return nil
}
