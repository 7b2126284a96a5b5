package batonconnector

// get_workflow_aggregates and get_step_aggregates: dbos.GetWorkflowAggregates and
// dbos.GetStepAggregates (public in v1.7 to v1.9), with the stock client's defaults.

import (
	"errors"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
)

var errBucket = badRequest{errors.New("time_bucket_size_ms must be > 0")}

func (v *verbs) workflowAggregates(data []byte) (any, error) {
	var req struct {
		Body struct {
			GroupByStatus             bool           `json:"group_by_status"`
			GroupByName               bool           `json:"group_by_name"`
			GroupByQueueName          bool           `json:"group_by_queue_name"`
			GroupByExecutorID         bool           `json:"group_by_executor_id"`
			GroupByApplicationVersion bool           `json:"group_by_application_version"`
			GroupByApplicationName    bool           `json:"group_by_application_name"`
			SelectCount               bool           `json:"select_count"`
			SelectMinCreatedAt        bool           `json:"select_min_created_at"`
			SelectMaxQueueWaitMs      bool           `json:"select_max_queue_wait_ms"`
			SelectMaxTotalLatencyMs   bool           `json:"select_max_total_latency_ms"`
			TimeBucketSizeMs          *int64         `json:"time_bucket_size_ms"`
			Status                    stringOrList   `json:"status"`
			StartTime                 *time.Time     `json:"start_time"`
			EndTime                   *time.Time     `json:"end_time"`
			CompletedAfter            *time.Time     `json:"completed_after"`
			CompletedBefore           *time.Time     `json:"completed_before"`
			DequeuedAfter             *time.Time     `json:"dequeued_after"`
			DequeuedBefore            *time.Time     `json:"dequeued_before"`
			Name                      stringOrList   `json:"name"`
			AppVersion                stringOrList   `json:"app_version"`
			ExecutorID                stringOrList   `json:"executor_id"`
			QueueName                 stringOrList   `json:"queue_name"`
			WorkflowIDPrefix          stringOrList   `json:"workflow_id_prefix"`
			WorkflowIDs               stringOrList   `json:"workflow_ids"`
			ForkedFrom                stringOrList   `json:"forked_from"`
			ParentWorkflowID          stringOrList   `json:"parent_workflow_id"`
			User                      stringOrList   `json:"user"`
			ApplicationName           stringOrList   `json:"application_name"`
			WasForkedFrom             *bool          `json:"was_forked_from"`
			IsFork                    *bool          `json:"is_fork"`
			HasParent                 *bool          `json:"has_parent"`
			Attributes                map[string]any `json:"attributes"`
		} `json:"body"`
	}
	empty := map[string]any{"output": []any{}}
	if err := decode(data, &req); err != nil {
		return empty, err
	}
	b := req.Body
	if b.TimeBucketSizeMs != nil && *b.TimeBucketSizeMs <= 0 {
		return empty, errBucket
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
	if b.TimeBucketSizeMs != nil {
		input.TimeBucketSize = time.Duration(*b.TimeBucketSizeMs) * time.Millisecond
	}
	for _, status := range b.Status {
		input.Status = append(input.Status, dbos.WorkflowStatusType(status))
	}
	for _, t := range []struct {
		from *time.Time
		to   *time.Time
	}{{b.StartTime, &input.StartTime}, {b.EndTime, &input.EndTime},
		{b.CompletedAfter, &input.CompletedAfter}, {b.CompletedBefore, &input.CompletedBefore},
		{b.DequeuedAfter, &input.DequeuedAfter}, {b.DequeuedBefore, &input.DequeuedBefore}} {
		if t.from != nil {
			*t.to = *t.from
		}
	}
	rows, err := dbos.GetWorkflowAggregates(v.ctx, input)
	if err != nil || rows == nil {
		return empty, err
	}
	return map[string]any{"output": rows}, nil
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
	empty := map[string]any{"output": []any{}}
	if err := decode(data, &req); err != nil {
		return empty, err
	}
	b := req.Body
	if b.TimeBucketSizeMs != nil && *b.TimeBucketSizeMs <= 0 {
		return empty, errBucket
	}
	input := dbos.GetStepAggregatesInput{
		GroupByFunctionName: b.GroupByFunctionName, GroupByStatus: b.GroupByStatus,
		SelectCount: b.SelectCount || !b.SelectMaxDurationMs, SelectMaxDurationMs: b.SelectMaxDurationMs,
		Status: b.Status, FunctionName: b.FunctionName, WorkflowIDPrefix: b.WorkflowIDPrefix,
		ApplicationName: b.ApplicationName,
	}
	if b.TimeBucketSizeMs != nil {
		input.TimeBucketSize = time.Duration(*b.TimeBucketSizeMs) * time.Millisecond
	}
	if b.CompletedAfter != nil {
		input.CompletedAfter = *b.CompletedAfter
	}
	if b.CompletedBefore != nil {
		input.CompletedBefore = *b.CompletedBefore
	}
	rows, err := dbos.GetStepAggregates(v.ctx, input)
	if err != nil || rows == nil {
		return empty, err
	}
	return map[string]any{"output": rows}, nil
}
