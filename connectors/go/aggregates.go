package batonconnector

// get_workflow_aggregates and get_step_aggregates: dbos.GetWorkflowAggregates and
// dbos.GetStepAggregates (public in v1.7 to v1.9), with the stock client's defaults.

import (
	"errors"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
)

var (
	errBucket    = badRequest{errors.New("time_bucket_size_ms must be > 0")}
	noAggregates = map[string]any{"output": []any{}}
)

// bucketSize reads time_bucket_size_ms: absent means no buckets (zero), and it must be positive.
func bucketSize(ms *int64) (time.Duration, error) {
	if ms == nil {
		return 0, nil
	}
	if *ms <= 0 {
		return 0, errBucket
	}
	return time.Duration(*ms) * time.Millisecond, nil
}

// aggregatesReply answers with the rows, or with no rows when DBOS failed or found none.
func aggregatesReply[Row any](rows []Row, err error) (any, error) {
	if err != nil || rows == nil {
		return noAggregates, err
	}
	return map[string]any{"output": rows}, nil
}

func (v *verbs) workflowAggregates(data []byte) (any, error) {
	var req struct {
		Body struct {
			GroupByStatus             bool         `json:"group_by_status"`
			GroupByName               bool         `json:"group_by_name"`
			GroupByQueueName          bool         `json:"group_by_queue_name"`
			GroupByExecutorID         bool         `json:"group_by_executor_id"`
			GroupByApplicationVersion bool         `json:"group_by_application_version"`
			GroupByApplicationName    bool         `json:"group_by_application_name"`
			SelectCount               bool         `json:"select_count"`
			SelectMinCreatedAt        bool         `json:"select_min_created_at"`
			SelectMaxQueueWaitMs      bool         `json:"select_max_queue_wait_ms"`
			SelectMaxTotalLatencyMs   bool         `json:"select_max_total_latency_ms"`
			TimeBucketSizeMs          *int64       `json:"time_bucket_size_ms"`
			Status                    stringOrList `json:"status"`
			timeBounds
			Name             stringOrList   `json:"name"`
			AppVersion       stringOrList   `json:"app_version"`
			ExecutorID       stringOrList   `json:"executor_id"`
			QueueName        stringOrList   `json:"queue_name"`
			WorkflowIDPrefix stringOrList   `json:"workflow_id_prefix"`
			WorkflowIDs      stringOrList   `json:"workflow_ids"`
			ForkedFrom       stringOrList   `json:"forked_from"`
			ParentWorkflowID stringOrList   `json:"parent_workflow_id"`
			User             stringOrList   `json:"user"`
			ApplicationName  stringOrList   `json:"application_name"`
			WasForkedFrom    *bool          `json:"was_forked_from"`
			IsFork           *bool          `json:"is_fork"`
			HasParent        *bool          `json:"has_parent"`
			Attributes       map[string]any `json:"attributes"`
		} `json:"body"`
	}
	if err := decode(data, &req); err != nil {
		return noAggregates, err
	}
	b := req.Body
	bucket, err := bucketSize(b.TimeBucketSizeMs)
	if err != nil {
		return noAggregates, err
	}
	input := dbos.GetWorkflowAggregatesInput{
		GroupByStatus: b.GroupByStatus, GroupByName: b.GroupByName, GroupByQueueName: b.GroupByQueueName,
		GroupByExecutorID: b.GroupByExecutorID, GroupByApplicationVersion: b.GroupByApplicationVersion,
		GroupByApplicationName: b.GroupByApplicationName,
		SelectCount:            b.SelectCount, SelectMinCreatedAt: b.SelectMinCreatedAt,
		SelectMaxQueueWaitMs: b.SelectMaxQueueWaitMs, SelectMaxTotalLatencyMs: b.SelectMaxTotalLatencyMs,
		Name: b.Name, ApplicationVersion: b.AppVersion, ExecutorID: b.ExecutorID, QueueName: b.QueueName,
		WorkflowIDPrefix: b.WorkflowIDPrefix, WorkflowIDs: b.WorkflowIDs, AuthenticatedUser: b.User,
		ForkedFrom: b.ForkedFrom, ParentWorkflowID: b.ParentWorkflowID, ApplicationName: b.ApplicationName,
		WasForkedFrom: b.WasForkedFrom, IsFork: b.IsFork, HasParent: b.HasParent, Attributes: b.Attributes,
	}
	// Nothing selected means a count, as the stock client reads the admin API's bodies.
	if !input.SelectCount && !input.SelectMinCreatedAt && !input.SelectMaxQueueWaitMs && !input.SelectMaxTotalLatencyMs {
		input.SelectCount = true
	}
	input.TimeBucketSize = bucket
	for _, status := range b.Status {
		input.Status = append(input.Status, dbos.WorkflowStatusType(status))
	}
	setIfPresent(&input.StartTime, b.StartTime)
	setIfPresent(&input.EndTime, b.EndTime)
	setIfPresent(&input.CompletedAfter, b.CompletedAfter)
	setIfPresent(&input.CompletedBefore, b.CompletedBefore)
	setIfPresent(&input.DequeuedAfter, b.DequeuedAfter)
	setIfPresent(&input.DequeuedBefore, b.DequeuedBefore)
	rows, err := dbos.GetWorkflowAggregates(v.ctx, input)
	return aggregatesReply(rows, err)
}

func (v *verbs) stepAggregates(data []byte) (any, error) {
	var req struct {
		Body struct {
			GroupByFunctionName bool         `json:"group_by_function_name"`
			GroupByStatus       bool         `json:"group_by_status"`
			SelectCount         bool         `json:"select_count"`
			SelectMaxDurationMs bool         `json:"select_max_duration_ms"`
			TimeBucketSizeMs    *int64       `json:"time_bucket_size_ms"`
			Status              stringOrList `json:"status"`
			FunctionName        stringOrList `json:"function_name"`
			WorkflowIDPrefix    stringOrList `json:"workflow_id_prefix"`
			CompletedAfter      *time.Time   `json:"completed_after"`
			CompletedBefore     *time.Time   `json:"completed_before"`
			ApplicationName     stringOrList `json:"application_name"`
		} `json:"body"`
	}
	if err := decode(data, &req); err != nil {
		return noAggregates, err
	}
	b := req.Body
	bucket, err := bucketSize(b.TimeBucketSizeMs)
	if err != nil {
		return noAggregates, err
	}
	input := dbos.GetStepAggregatesInput{
		GroupByFunctionName: b.GroupByFunctionName, GroupByStatus: b.GroupByStatus,
		SelectCount: b.SelectCount || !b.SelectMaxDurationMs, SelectMaxDurationMs: b.SelectMaxDurationMs,
		Status: b.Status, FunctionName: b.FunctionName, WorkflowIDPrefix: b.WorkflowIDPrefix,
		ApplicationName: b.ApplicationName,
	}
	input.TimeBucketSize = bucket
	setIfPresent(&input.CompletedAfter, b.CompletedAfter)
	setIfPresent(&input.CompletedBefore, b.CompletedBefore)
	rows, err := dbos.GetStepAggregates(v.ctx, input)
	return aggregatesReply(rows, err)
}
