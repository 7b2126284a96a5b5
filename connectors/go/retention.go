package batonconnector

// retention, rebuilt from DBOS's public calls (its own Go client v1.6.0 called the system
// database's GarbageCollectWorkflows and CancelAllBefore, which nothing public exposes).

import (
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
)

// finishedStatuses are what retention may delete; activeStatuses what a global timeout cancels.
var (
	finishedStatuses = []dbos.WorkflowStatusType{dbos.WorkflowStatusSuccess, dbos.WorkflowStatusError,
		dbos.WorkflowStatusCancelled, dbos.WorkflowStatusMaxRecoveryAttemptsExceeded}
	activeStatuses = []dbos.WorkflowStatusType{dbos.WorkflowStatusPending, dbos.WorkflowStatusEnqueued}
)

// retentionBatch is how many workflows retention lists and deletes per round.
const retentionBatch = 1000

// startRetention answers at once and runs the round in the background, one at a time, as DBOS's
// stock client does; it is rebuilt from dbos.ListWorkflows + DeleteWorkflows (garbage
// collection of finished workflows) and CancelWorkflows (global timeout).
func (v *verbs) startRetention(data []byte) (any, error) {
	var req struct {
		Body struct {
			GCCutoffEpochMs      *int64 `json:"gc_cutoff_epoch_ms"`
			GCRowsThreshold      *int   `json:"gc_rows_threshold"`
			GCBatchSize          *int   `json:"gc_batch_size"`
			TimeoutCutoffEpochMs *int64 `json:"timeout_cutoff_epoch_ms"`
		} `json:"body"`
	}
	if err := decode(data, &req); err != nil {
		return success{}, err
	}
	body := req.Body
	batch := retentionBatch
	if body.GCBatchSize != nil && *body.GCBatchSize > 0 {
		batch = *body.GCBatchSize
	}
	select {
	case v.retention <- struct{}{}:
	default:
		v.logger.Warn("Skipping retention: the previous round is still running")
		return success{Success: true}, nil
	}
	go func() {
		defer func() { <-v.retention }()
		if err := v.runRetention(body.GCCutoffEpochMs, body.GCRowsThreshold, batch, body.TimeoutCutoffEpochMs); err != nil {
			v.logger.Error("Retention failed", "error", err)
		}
	}()
	return success{Success: true}, nil
}

func (v *verbs) runRetention(cutoffMs *int64, rows *int, batch int, timeoutMs *int64) error {
	finished := func(extra ...dbos.ListWorkflowsOption) ([]string, error) {
		opts := append([]dbos.ListWorkflowsOption{dbos.WithFilterStatus(finishedStatuses...),
			dbos.WithFilterLoadInput(false), dbos.WithFilterLoadOutput(false), dbos.WithFilterLimit(batch)}, extra...)
		found, err := dbos.ListWorkflows(v.ctx, opts...)
		ids := make([]string, 0, len(found))
		for _, wf := range found {
			ids = append(ids, wf.ID)
		}
		return ids, err
	}
	deleteAll := func(extra ...dbos.ListWorkflowsOption) error {
		for {
			ids, err := finished(extra...)
			if err != nil || len(ids) == 0 {
				return err
			}
			if err := dbos.DeleteWorkflows(v.ctx, ids); err != nil {
				return err
			}
		}
	}
	if cutoffMs != nil {
		if err := deleteAll(dbos.WithFilterCreatedBefore(time.UnixMilli(*cutoffMs))); err != nil {
			return err
		}
	}
	if rows != nil {
		if err := deleteAll(dbos.WithFilterOffset(*rows), dbos.WithFilterSortDesc()); err != nil {
			return err
		}
	}
	if timeoutMs != nil {
		late, err := dbos.ListWorkflows(v.ctx, dbos.WithFilterStatus(activeStatuses...),
			dbos.WithFilterCreatedBefore(time.UnixMilli(*timeoutMs)),
			dbos.WithFilterLoadInput(false), dbos.WithFilterLoadOutput(false))
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(late))
		for _, wf := range late {
			ids = append(ids, wf.ID)
		}
		if len(ids) > 0 {
			return dbos.CancelWorkflows(v.ctx, ids)
		}
	}
	return nil
}
