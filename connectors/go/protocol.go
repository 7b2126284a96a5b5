package batonconnector

// The Conductor protocol's wire shapes, as DBOS's own Go client v1.6.0 (the last open one,
// dbos/conductor_protocol.go, MIT) reads and writes them: request bodies decoded from JSON, and
// the rendering of workflows, steps, schedules and queues into their reply fields.

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
)

// Every message type the protocol names; Baton sends a subset (see the README).
const (
	msgExecutorInfo          = "executor_info"
	msgRecovery              = "recovery"
	msgCancel                = "cancel"
	msgResume                = "resume"
	msgListWorkflows         = "list_workflows"
	msgListQueuedWorkflows   = "list_queued_workflows"
	msgListSteps             = "list_steps"
	msgGetWorkflow           = "get_workflow"
	msgForkWorkflow          = "fork_workflow"
	msgRewindWorkflow        = "rewind_workflow"
	msgForkFromFailure       = "fork_from_failure"
	msgExistPending          = "exist_pending_workflows"
	msgRetention             = "retention"
	msgGetMetrics            = "get_metrics"
	msgExportWorkflow        = "export_workflow"
	msgImportWorkflow        = "import_workflow"
	msgDelete                = "delete"
	msgAlert                 = "alert"
	msgListSchedules         = "list_schedules"
	msgGetSchedule           = "get_schedule"
	msgPauseSchedule         = "pause_schedule"
	msgResumeSchedule        = "resume_schedule"
	msgBackfillSchedule      = "backfill_schedule"
	msgTriggerSchedule       = "trigger_schedule"
	msgGetWorkflowEvents     = "get_workflow_events"
	msgGetNotifications      = "get_workflow_notifications"
	msgGetStreams            = "get_workflow_streams"
	msgGetWorkflowAggregates = "get_workflow_aggregates"
	msgGetStepAggregates     = "get_step_aggregates"
	msgListAppVersions       = "list_application_versions"
	msgSetLatestAppVersion   = "set_latest_application_version"
	msgListQueues            = "list_queues"
	msgGetQueue              = "get_queue"
)

// unknownMessageType is DBOS's reply to a type it does not know (Baton reads it as "unsupported").
const unknownMessageType = "Unknown message type"

// notSupported starts the reply to a verb this connector cannot serve through DBOS's public API.
const notSupported = "is not supported by this client"

// baseMessage is what every request and reply carries.
type baseMessage struct {
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
}

// stringOrList accepts a string or a list of strings (the conductor's filter fields).
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*s = nil
		return nil
	}
	var single string
	if err := json.Unmarshal(data, &single); err == nil {
		*s = stringOrList{single}
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return err
	}
	*s = list
	return nil
}

// timeBounds are the time filters that list_workflows, list_queued_workflows and
// get_workflow_aggregates share.
type timeBounds struct {
	StartTime       *time.Time `json:"start_time"`
	EndTime         *time.Time `json:"end_time"`
	CompletedAfter  *time.Time `json:"completed_after"`
	CompletedBefore *time.Time `json:"completed_before"`
	DequeuedAfter   *time.Time `json:"dequeued_after"`
	DequeuedBefore  *time.Time `json:"dequeued_before"`
}

// listReply is the {"output": [...]} reply of a list verb, each item rendered by render: an
// empty list (never null) when there are none, and DBOS's error beside it.
func listReply[Item, Output any](items []Item, render func(Item) Output, err error) (any, error) {
	output := make([]Output, 0, len(items))
	for _, item := range items {
		output = append(output, render(item))
	}
	return map[string]any{"output": output}, err
}

// setIfPresent sets *into to the request's optional value when the request has one.
func setIfPresent[T any](into *T, value *T) {
	if value != nil {
		*into = *value
	}
}

// listBody is the filter of list_workflows and list_queued_workflows.
type listBody struct {
	WorkflowUUIDs     []string     `json:"workflow_uuids"`
	WorkflowName      stringOrList `json:"workflow_name"`
	AuthenticatedUser stringOrList `json:"authenticated_user"`
	timeBounds
	Status             stringOrList   `json:"status"`
	ApplicationVersion stringOrList   `json:"application_version"`
	ForkedFrom         stringOrList   `json:"forked_from"`
	ParentWorkflowID   stringOrList   `json:"parent_workflow_id"`
	WasForkedFrom      *bool          `json:"was_forked_from"`
	IsFork             *bool          `json:"is_fork"`
	HasParent          *bool          `json:"has_parent"`
	QueueName          stringOrList   `json:"queue_name"`
	Limit              *int           `json:"limit"`
	Offset             *int           `json:"offset"`
	SortDesc           bool           `json:"sort_desc"`
	WorkflowIDPrefix   stringOrList   `json:"workflow_id_prefix"`
	LoadInput          bool           `json:"load_input"`
	LoadOutput         bool           `json:"load_output"`
	ExecutorID         stringOrList   `json:"executor_id"`
	QueuesOnly         bool           `json:"queues_only"`
	Attributes         map[string]any `json:"attributes"`
	ScheduleName       stringOrList   `json:"schedule_name"`
	ApplicationName    stringOrList   `json:"application_name"`
}

// workflowOutput is one workflow in a list_workflows or get_workflow reply.
type workflowOutput struct {
	WorkflowUUID            string  `json:"WorkflowUUID"`
	Status                  *string `json:"Status,omitempty"`
	WorkflowName            *string `json:"WorkflowName,omitempty"`
	WorkflowClassName       *string `json:"WorkflowClassName,omitempty"`
	WorkflowConfigName      *string `json:"WorkflowConfigName,omitempty"`
	AuthenticatedUser       *string `json:"AuthenticatedUser,omitempty"`
	AssumedRole             *string `json:"AssumedRole,omitempty"`
	AuthenticatedRoles      *string `json:"AuthenticatedRoles,omitempty"`
	Input                   *string `json:"Input,omitempty"`
	Output                  *string `json:"Output,omitempty"`
	Error                   *string `json:"Error,omitempty"`
	CreatedAt               *string `json:"CreatedAt,omitempty"`
	UpdatedAt               *string `json:"UpdatedAt,omitempty"`
	QueueName               *string `json:"QueueName,omitempty"`
	ApplicationVersion      *string `json:"ApplicationVersion,omitempty"`
	ExecutorID              *string `json:"ExecutorID,omitempty"`
	WorkflowTimeoutMS       *string `json:"WorkflowTimeoutMS,omitempty"`
	WorkflowDeadlineEpochMS *string `json:"WorkflowDeadlineEpochMS,omitempty"`
	DeduplicationID         *string `json:"DeduplicationID,omitempty"`
	Priority                *string `json:"Priority,omitempty"`
	QueuePartitionKey       *string `json:"QueuePartitionKey,omitempty"`
	ForkedFrom              *string `json:"ForkedFrom,omitempty"`
	WasForkedFrom           *bool   `json:"WasForkedFrom,omitempty"`
	ParentWorkflowID        *string `json:"ParentWorkflowID,omitempty"`
	DequeuedAt              *string `json:"DequeuedAt,omitempty"`
	DelayUntilEpochMS       *string `json:"DelayUntilEpochMS,omitempty"`
	CompletedAt             *string `json:"CompletedAt,omitempty"`
	Attributes              *string `json:"Attributes,omitempty"`
	ScheduleName            *string `json:"ScheduleName,omitempty"`
	ApplicationName         *string `json:"ApplicationName,omitempty"`
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func epochMs(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := strconv.FormatInt(t.UnixMilli(), 10)
	return &s
}

func jsonText(v any) *string {
	if v == nil {
		return nil
	}
	if s, ok := v.(string); ok && json.Valid([]byte(s)) {
		return &s
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	s := string(data)
	return &s
}

func jsonIfAny[T any](v T, present bool) *string {
	if !present {
		return nil
	}
	return jsonText(v)
}

// formatWorkflow renders a workflow as DBOS's Go client v1.6.0 does (epoch-ms strings, JSON
// text for inputs and outputs, the error's message).
func formatWorkflow(wf dbos.WorkflowStatus) workflowOutput {
	out := workflowOutput{
		WorkflowUUID:            wf.ID,
		Status:                  nonEmpty(string(wf.Status)),
		WorkflowName:            nonEmpty(wf.Name),
		WorkflowClassName:       nonEmpty(wf.ClassName),
		WorkflowConfigName:      wf.ConfigName,
		AuthenticatedUser:       nonEmpty(wf.AuthenticatedUser),
		AssumedRole:             nonEmpty(wf.AssumedRole),
		AuthenticatedRoles:      jsonIfAny(wf.AuthenticatedRoles, len(wf.AuthenticatedRoles) > 0),
		Input:                   jsonText(wf.Input),
		Output:                  jsonText(wf.Output),
		CreatedAt:               epochMs(wf.CreatedAt),
		UpdatedAt:               epochMs(wf.UpdatedAt),
		QueueName:               nonEmpty(wf.QueueName),
		ApplicationVersion:      nonEmpty(wf.ApplicationVersion),
		ExecutorID:              nonEmpty(wf.ExecutorID),
		WorkflowDeadlineEpochMS: epochMs(wf.Deadline),
		DeduplicationID:         nonEmpty(wf.DeduplicationID),
		QueuePartitionKey:       nonEmpty(wf.QueuePartitionKey),
		ForkedFrom:              nonEmpty(wf.ForkedFrom),
		ParentWorkflowID:        nonEmpty(wf.ParentWorkflowID),
		DelayUntilEpochMS:       epochMs(wf.DelayUntil),
		CompletedAt:             epochMs(wf.CompletedAt),
		Attributes:              jsonIfAny(wf.Attributes, len(wf.Attributes) > 0),
		ScheduleName:            nonEmpty(wf.ScheduleName),
		ApplicationName:         nonEmpty(wf.ApplicationName),
	}
	if wf.Error != nil {
		message := wf.Error.Error()
		out.Error = &message
	}
	priority := strconv.Itoa(wf.Priority)
	out.Priority = &priority
	if wf.Timeout > 0 {
		timeout := strconv.FormatInt(wf.Timeout.Milliseconds(), 10)
		out.WorkflowTimeoutMS = &timeout
	}
	wasForkedFrom := wf.WasForkedFrom
	out.WasForkedFrom = &wasForkedFrom
	if wf.Status == dbos.WorkflowStatusPending {
		out.DequeuedAt = epochMs(wf.StartedAt)
	}
	return out
}

// stepOutput is one step in a list_steps reply.
type stepOutput struct {
	FunctionID         int     `json:"function_id"`
	FunctionName       string  `json:"function_name"`
	Output             *string `json:"output,omitempty"`
	Error              *string `json:"error,omitempty"`
	ChildWorkflowID    *string `json:"child_workflow_id,omitempty"`
	StartedAtEpochMs   *string `json:"started_at_epoch_ms,omitempty"`
	CompletedAtEpochMs *string `json:"completed_at_epoch_ms,omitempty"`
}

func formatStep(step dbos.StepInfo, withError bool) stepOutput {
	out := stepOutput{
		FunctionID:         step.StepID,
		FunctionName:       step.StepName,
		Output:             jsonText(step.Output),
		ChildWorkflowID:    nonEmpty(step.ChildWorkflowID),
		StartedAtEpochMs:   epochMs(step.StartedAt),
		CompletedAtEpochMs: epochMs(step.CompletedAt),
	}
	if step.Error != nil && withError {
		message := step.Error.Error()
		out.Error = &message
	}
	return out
}

// scheduleOutput is one schedule in a list_schedules or get_schedule reply.
type scheduleOutput struct {
	ScheduleID        string  `json:"schedule_id"`
	ScheduleName      string  `json:"schedule_name"`
	WorkflowName      string  `json:"workflow_name"`
	WorkflowClassName *string `json:"workflow_class_name"`
	Schedule          string  `json:"schedule"`
	Status            string  `json:"status"`
	Context           *string `json:"context"`
	LastFiredAt       *string `json:"last_fired_at"`
	AutomaticBackfill bool    `json:"automatic_backfill"`
	CronTimezone      *string `json:"cron_timezone"`
	QueueName         *string `json:"queue_name"`
	ApplicationName   *string `json:"application_name"`
}

func formatSchedule(s dbos.WorkflowSchedule, loadContext bool) scheduleOutput {
	out := scheduleOutput{
		ScheduleID:        s.ScheduleID,
		ScheduleName:      s.ScheduleName,
		WorkflowName:      s.WorkflowName,
		WorkflowClassName: nonEmpty(s.WorkflowClassName),
		Schedule:          s.Schedule,
		Status:            string(s.Status),
		AutomaticBackfill: s.AutomaticBackfill,
		CronTimezone:      nonEmpty(s.CronTimezone),
		QueueName:         nonEmpty(s.QueueName),
		ApplicationName:   nonEmpty(s.ApplicationName),
	}
	if s.LastFiredAt != nil {
		fired := s.LastFiredAt.Format(time.RFC3339Nano)
		out.LastFiredAt = &fired
	}
	if loadContext && len(s.Context) > 0 {
		context := string(s.Context)
		out.Context = &context
	}
	return out
}

// queueOutput is one queue in a list_queues or get_queue reply: its persisted settings.
type queueOutput struct {
	Name                        string   `json:"name"`
	Concurrency                 *int     `json:"concurrency"`
	WorkerConcurrency           *int     `json:"worker_concurrency"`
	RateLimitMax                *int     `json:"rate_limit_max"`
	RateLimitPeriodSec          *float64 `json:"rate_limit_period_sec"`
	PriorityEnabled             bool     `json:"priority_enabled"`
	PartitionQueue              bool     `json:"partition_queue"`
	PollingIntervalSec          float64  `json:"polling_interval_sec"`
	ApplicationName             *string  `json:"application_name"`
	PartitionConcurrency        *int     `json:"partition_concurrency"`
	PartitionWorkerConcurrency  *int     `json:"partition_worker_concurrency"`
	PartitionRateLimitMax       *int     `json:"partition_rate_limit_max"`
	PartitionRateLimitPeriodSec *float64 `json:"partition_rate_limit_period_sec"`
}

func formatQueue(q dbos.Queue) queueOutput {
	out := queueOutput{
		Name:                       q.GetName(),
		Concurrency:                q.GetGlobalConcurrency(),
		WorkerConcurrency:          q.GetWorkerConcurrency(),
		PriorityEnabled:            q.GetPriorityEnabled(),
		PartitionQueue:             q.GetPartitionQueue(),
		PollingIntervalSec:         q.GetPollingInterval().Seconds(),
		ApplicationName:            nonEmpty(q.GetApplicationName()),
		PartitionConcurrency:       q.GetPartitionConcurrency(),
		PartitionWorkerConcurrency: q.GetPartitionWorkerConcurrency(),
	}
	out.RateLimitMax, out.RateLimitPeriodSec = rateLimit(q.GetRateLimit())
	out.PartitionRateLimitMax, out.PartitionRateLimitPeriodSec = rateLimit(q.GetPartitionRateLimit())
	return out
}

func rateLimit(limiter *dbos.RateLimiter) (*int, *float64) {
	if limiter == nil {
		return nil, nil
	}
	limit, period := limiter.Limit, limiter.Period.Seconds()
	return &limit, &period
}

// versionOutput is one application version in a list_application_versions reply.
type versionOutput struct {
	ID        string `json:"version_id"`
	Name      string `json:"version_name"`
	Timestamp int64  `json:"version_timestamp"`
	CreatedAt int64  `json:"created_at"`
}

func formatVersion(version dbos.VersionInfo) versionOutput {
	return versionOutput{ID: version.ID, Name: version.Name, Timestamp: version.Timestamp,
		CreatedAt: version.CreatedAt}
}
