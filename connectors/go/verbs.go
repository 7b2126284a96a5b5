package batonconnector

// The answer to each request: DBOS's public API (dbos.Context's Client calls) for every verb it
// serves, dbos/internals.Runtime for recovery and the alert handler, and a "not supported by
// this client" reply for the verbs nothing public serves (see the README's table).

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	"github.com/dbos-inc/dbos-transact-golang/dbos/internals"
)

var (
	strategyMu       sync.Mutex
	strategyOverride Strategy
)

// UseRecovery makes the Connections created afterwards recover with strategy s instead of the
// default (RuntimeRecover when the Context exposes the runtime view, else PublicResume); "" goes
// back to the default. For tests and for a Context wrapped by the application. An unknown
// strategy is refused and changes nothing.
func UseRecovery(s Strategy) error {
	if s != "" && s != RuntimeRecover && s != PublicResume {
		return fmt.Errorf("baton-connector: unknown recovery strategy %q (want %q or %q)", s, RuntimeRecover, PublicResume)
	}
	strategyMu.Lock()
	defer strategyMu.Unlock()
	strategyOverride = s
	return nil
}

// unsupported names the verbs the connector refuses, and why.
var unsupported = map[string]string{
	msgGetMetrics:        "no public call reads step metrics",
	msgExportWorkflow:    "no public call exports a workflow",
	msgImportWorkflow:    "no public call imports a workflow",
	msgGetWorkflowEvents: "no public call lists a workflow's events",
	msgGetNotifications:  "no public call lists a workflow's messages",
	msgGetStreams:        "no public call lists a workflow's streams",
}

// finishedStatuses are what retention may delete; activeStatuses what a global timeout cancels.
var (
	finishedStatuses = []dbos.WorkflowStatusType{dbos.WorkflowStatusSuccess, dbos.WorkflowStatusError,
		dbos.WorkflowStatusCancelled, dbos.WorkflowStatusMaxRecoveryAttemptsExceeded}
	activeStatuses = []dbos.WorkflowStatusType{dbos.WorkflowStatusPending, dbos.WorkflowStatusEnqueued}
)

// retentionBatch is how many workflows retention lists and deletes per round.
const retentionBatch = 1000

type verbs struct {
	ctx          dbos.Context
	runtime      internals.Runtime
	logger       *slog.Logger
	strategy     Strategy
	metadata     map[string]any
	metadataOnly bool
	dbosVersion  string
	retention    chan struct{}
}

func newVerbs(ctx dbos.Context, runtime internals.Runtime, opts dbos.ConductorOptions, logger *slog.Logger) *verbs {
	strategy := PublicResume
	if runtime != nil {
		strategy = RuntimeRecover
	}
	strategyMu.Lock()
	if strategyOverride == PublicResume || (strategyOverride == RuntimeRecover && runtime != nil) {
		strategy = strategyOverride
	}
	strategyMu.Unlock()
	metadata := map[string]any{}
	for key, value := range opts.ExecutorMetadata {
		metadata[key] = value
	}
	metadata["connector"] = "baton-connector-go " + Version
	metadata["recovery"] = string(strategy)
	return &verbs{
		ctx:          ctx,
		runtime:      runtime,
		logger:       logger,
		strategy:     strategy,
		metadata:     metadata,
		metadataOnly: opts.MetadataOnlyMode,
		dbosVersion:  dbosVersion(),
		retention:    make(chan struct{}, 1),
	}
}

// badRequest is a request whose fields cannot be read: answered with its message.
type badRequest struct{ err error }

func (b badRequest) Error() string { return "bad request: " + b.err.Error() }

func decode(data []byte, into any) error {
	if err := json.Unmarshal(data, into); err != nil {
		return badRequest{err}
	}
	return nil
}

// answer is the reply frame to one request frame.
func (v *verbs) answer(data []byte) []byte {
	var base baseMessage
	if err := json.Unmarshal(data, &base); err != nil {
		v.logger.Warn("Ignoring a frame that is not a JSON request", "error", err)
		base = baseMessage{Type: "", RequestID: ""}
	}
	started := time.Now()
	fields, err := v.dispatch(base.Type, data)
	reply := map[string]any{}
	if fields != nil {
		raw, merr := json.Marshal(fields)
		if merr == nil {
			merr = json.Unmarshal(raw, &reply)
		}
		if merr != nil && err == nil {
			err = fmt.Errorf("failed to render the reply: %w", merr)
		}
	}
	reply["type"] = base.Type
	reply["request_id"] = base.RequestID
	if err != nil {
		reply["error_message"] = v.errorText(base.Type, err)
		var refused refusal
		if errors.As(err, &refused) {
			v.logger.Info("Request refused", "type", base.Type, "request_id", base.RequestID, "reason", err)
		} else {
			v.logger.Warn("Request failed", "type", base.Type, "request_id", base.RequestID, "error", err)
		}
	}
	v.logger.Debug("Answered", "type", base.Type, "request_id", base.RequestID,
		"latency_us", time.Since(started).Microseconds())
	out, merr := json.Marshal(reply)
	if merr != nil { // a reply of strings and maps from JSON always renders
		panic(merr)
	}
	return out
}

// errorText is the error_message of a failed request; in metadata-only mode a DBOS error is
// named by its code alone, as DBOS's stock client does.
func (v *verbs) errorText(verb string, err error) string {
	var refused refusal
	if errors.As(err, &refused) || errors.As(err, new(badRequest)) || !v.metadataOnly {
		return err.Error()
	}
	var dbosErr *dbos.Error
	if errors.As(err, &dbosErr) {
		return fmt.Sprintf("%s failed: %s (details withheld in metadata-only mode)", verb, dbosErr.Code.String())
	}
	return fmt.Sprintf("%s failed (details withheld in metadata-only mode)", verb)
}

// refusal is an answer that is only an error message (unknown or unsupported verb).
type refusal string

func (r refusal) Error() string { return string(r) }

func (v *verbs) refuse(verb string) error {
	return refusal(fmt.Sprintf("%s %s (baton-connector %s on dbos-transact-golang %s: %s)",
		verb, notSupported, Version, v.dbosVersion, unsupported[verb]))
}

type success struct {
	Success bool `json:"success"`
}

// done is the {"success": ...} reply of an action.
func done(err error) (any, error) {
	return success{Success: err == nil}, err
}

func (v *verbs) dispatch(verb string, data []byte) (any, error) {
	if _, refused := unsupported[verb]; refused {
		return nil, v.refuse(verb)
	}
	switch verb {
	case msgExecutorInfo:
		return v.executorInfo(), nil
	case msgRecovery:
		var req struct {
			ExecutorIDs []string `json:"executor_ids"`
		}
		if err := decode(data, &req); err != nil {
			return success{}, err
		}
		err := v.recover(req.ExecutorIDs)
		if err == nil {
			v.logger.Info("Recovery requested", "executor_ids", req.ExecutorIDs, "strategy", string(v.strategy))
		}
		return done(err)
	case msgCancel, msgResume, msgDelete:
		return v.act(verb, data)
	case msgListWorkflows, msgListQueuedWorkflows:
		var req struct {
			Body listBody `json:"body"`
		}
		if err := decode(data, &req); err != nil {
			return map[string]any{"output": []any{}}, err
		}
		found, err := dbos.ListWorkflows(v.ctx, v.listOptions(req.Body, verb == msgListQueuedWorkflows)...)
		output := make([]workflowOutput, 0, len(found))
		for _, wf := range found {
			output = append(output, formatWorkflow(wf))
		}
		return map[string]any{"output": output}, err
	case msgGetWorkflow:
		return v.getWorkflow(data)
	case msgListSteps:
		return v.listSteps(data)
	case msgExistPending:
		var req struct {
			ExecutorID         string `json:"executor_id"`
			ApplicationVersion string `json:"application_version"`
		}
		if err := decode(data, &req); err != nil {
			return map[string]any{"exist": false}, err
		}
		found, err := dbos.ListWorkflows(v.ctx, dbos.WithFilterStatus(dbos.WorkflowStatusPending),
			dbos.WithFilterExecutorIDs(req.ExecutorID), dbos.WithFilterAppVersion(req.ApplicationVersion),
			dbos.WithFilterLimit(1), dbos.WithFilterLoadInput(false), dbos.WithFilterLoadOutput(false))
		return map[string]any{"exist": len(found) > 0}, err
	case msgForkWorkflow:
		return v.fork(data)
	case msgRewindWorkflow:
		return v.rewind(data)
	case msgForkFromFailure:
		return v.forkFromFailure(data)
	case msgRetention:
		return v.startRetention(data)
	case msgAlert:
		return v.alert(data)
	case msgListSchedules, msgGetSchedule, msgPauseSchedule, msgResumeSchedule, msgBackfillSchedule, msgTriggerSchedule:
		return v.schedules(verb, data)
	case msgListAppVersions:
		versions, err := dbos.ListApplicationVersions(v.ctx)
		output := make([]versionOutput, 0, len(versions))
		for _, version := range versions {
			output = append(output, versionOutput{ID: version.ID, Name: version.Name,
				Timestamp: version.Timestamp, CreatedAt: version.CreatedAt})
		}
		return map[string]any{"output": output}, err
	case msgSetLatestAppVersion:
		var req struct {
			VersionName string `json:"version_name"`
		}
		if err := decode(data, &req); err != nil {
			return success{}, err
		}
		return done(dbos.SetLatestApplicationVersion(v.ctx, req.VersionName))
	case msgListQueues:
		var req struct {
			Body struct {
				ApplicationName stringOrList `json:"application_name"`
			} `json:"body"`
		}
		if err := decode(data, &req); err != nil {
			return map[string]any{"output": []any{}}, err
		}
		var opts []dbos.ListQueuesOption
		if len(req.Body.ApplicationName) > 0 {
			opts = append(opts, dbos.WithListQueuesApplicationNames(req.Body.ApplicationName...))
		}
		queues, err := dbos.ListQueues(v.ctx, opts...)
		output := make([]queueOutput, 0, len(queues))
		for _, queue := range queues {
			output = append(output, formatQueue(queue))
		}
		return map[string]any{"output": output}, err
	case msgGetQueue:
		var req struct {
			Name string `json:"name"`
		}
		if err := decode(data, &req); err != nil {
			return map[string]any{"output": nil}, err
		}
		queue, err := dbos.RetrieveQueue(v.ctx, req.Name)
		if errors.Is(err, dbos.ErrQueueNotFound) || (err == nil && queue == nil) {
			return map[string]any{"output": nil}, nil
		}
		if err != nil {
			return map[string]any{"output": nil}, err
		}
		return map[string]any{"output": formatQueue(queue)}, nil
	case msgGetWorkflowAggregates:
		return v.workflowAggregates(data)
	case msgGetStepAggregates:
		return v.stepAggregates(data)
	default:
		return nil, refusal(unknownMessageType)
	}
}

func (v *verbs) executorInfo() map[string]any {
	return map[string]any{
		"executor_id":         v.ctx.GetExecutorID(),
		"application_version": v.ctx.GetApplicationVersion(),
		"hostname":            hostname(),
		"language":            "go",
		"dbos_version":        v.dbosVersion,
		"executor_metadata":   v.metadata,
	}
}

// act serves cancel, resume and delete: one workflow_id or a list of workflow_ids.
func (v *verbs) act(verb string, data []byte) (any, error) {
	var req struct {
		WorkflowID     string   `json:"workflow_id"`
		WorkflowIDs    []string `json:"workflow_ids"`
		QueueName      *string  `json:"queue_name"`
		CancelChildren bool     `json:"cancel_children"`
		DeleteChildren bool     `json:"delete_children"`
	}
	if err := decode(data, &req); err != nil {
		return success{}, err
	}
	ids := req.WorkflowIDs
	if len(ids) == 0 && req.WorkflowID != "" {
		ids = []string{req.WorkflowID}
	}
	var err error
	switch verb {
	case msgCancel:
		var opts []dbos.CancelWorkflowOption
		if req.CancelChildren {
			opts = append(opts, dbos.WithCancelChildren())
		}
		err = dbos.CancelWorkflows(v.ctx, ids, opts...)
	case msgResume:
		var opts []dbos.ResumeWorkflowOption
		if req.QueueName != nil {
			opts = append(opts, dbos.WithResumeQueue(*req.QueueName))
		}
		_, err = dbos.ResumeWorkflows[any](v.ctx, ids, opts...)
	case msgDelete:
		var opts []dbos.DeleteWorkflowOption
		if req.DeleteChildren {
			opts = append(opts, dbos.WithDeleteChildren())
		}
		err = dbos.DeleteWorkflows(v.ctx, ids, opts...)
	}
	if err == nil {
		v.logger.Info("Acted on workflows", "verb", verb, "workflow_ids", ids)
	}
	return done(err)
}

// listOptions maps a list body onto dbos.ListWorkflows' filters; a queued listing keeps to
// queued workflows (PENDING, ENQUEUED or DELAYED unless a status is named) without outputs.
func (v *verbs) listOptions(body listBody, queued bool) []dbos.ListWorkflowsOption {
	opts := []dbos.ListWorkflowsOption{
		dbos.WithFilterLoadInput(body.LoadInput && !v.metadataOnly),
		dbos.WithFilterLoadOutput(body.LoadOutput && !v.metadataOnly && !queued),
	}
	if body.QueuesOnly || queued {
		opts = append(opts, dbos.WithFilterQueuesOnly())
	}
	statuses := make([]dbos.WorkflowStatusType, 0, len(body.Status))
	for _, status := range body.Status {
		statuses = append(statuses, dbos.WorkflowStatusType(status))
	}
	if queued && len(statuses) == 0 {
		statuses = []dbos.WorkflowStatusType{dbos.WorkflowStatusPending, dbos.WorkflowStatusEnqueued,
			dbos.WorkflowStatusDelayed}
	}
	if len(statuses) > 0 {
		opts = append(opts, dbos.WithFilterStatus(statuses...))
	}
	if body.SortDesc {
		opts = append(opts, dbos.WithFilterSortDesc())
	}
	strings := []struct {
		values stringOrList
		filter func(...string) dbos.ListWorkflowsOption
	}{
		{stringOrList(body.WorkflowUUIDs), dbos.WithFilterWorkflowIDs},
		{body.WorkflowName, dbos.WithFilterName},
		{body.AuthenticatedUser, dbos.WithFilterUser},
		{body.ApplicationVersion, dbos.WithFilterAppVersion},
		{body.ForkedFrom, dbos.WithFilterForkedFrom},
		{body.ParentWorkflowID, dbos.WithFilterParentWorkflowID},
		{body.QueueName, dbos.WithFilterQueueName},
		{body.WorkflowIDPrefix, dbos.WithFilterWorkflowIDPrefix},
		{body.ExecutorID, dbos.WithFilterExecutorIDs},
		{body.ScheduleName, dbos.WithFilterScheduleName},
		{body.ApplicationName, dbos.WithFilterApplicationName},
	}
	for _, s := range strings {
		if len(s.values) > 0 {
			opts = append(opts, s.filter(s.values...))
		}
	}
	times := []struct {
		value  *time.Time
		filter func(time.Time) dbos.ListWorkflowsOption
	}{
		{body.StartTime, dbos.WithFilterCreatedAfter},
		{body.EndTime, dbos.WithFilterCreatedBefore},
		{body.CompletedAfter, dbos.WithFilterCompletedAfter},
		{body.CompletedBefore, dbos.WithFilterCompletedBefore},
		{body.DequeuedAfter, dbos.WithFilterDequeuedAfter},
		{body.DequeuedBefore, dbos.WithFilterDequeuedBefore},
	}
	for _, t := range times {
		if t.value != nil {
			opts = append(opts, t.filter(*t.value))
		}
	}
	flags := []struct {
		value  *bool
		filter func(bool) dbos.ListWorkflowsOption
	}{
		{body.WasForkedFrom, dbos.WithFilterWasForkedFrom},
		{body.IsFork, dbos.WithFilterIsFork},
		{body.HasParent, dbos.WithFilterHasParent},
	}
	for _, f := range flags {
		if f.value != nil {
			opts = append(opts, f.filter(*f.value))
		}
	}
	if body.Limit != nil {
		opts = append(opts, dbos.WithFilterLimit(*body.Limit))
	}
	if body.Offset != nil {
		opts = append(opts, dbos.WithFilterOffset(*body.Offset))
	}
	if len(body.Attributes) > 0 {
		opts = append(opts, dbos.WithFilterAttributes(body.Attributes))
	}
	return opts
}

func (v *verbs) getWorkflow(data []byte) (any, error) {
	var req struct {
		WorkflowID string `json:"workflow_id"`
		LoadInput  *bool  `json:"load_input"`
		LoadOutput *bool  `json:"load_output"`
	}
	if err := decode(data, &req); err != nil {
		return map[string]any{"output": nil}, err
	}
	// Absent flags load both, as the stock clients' detail views do.
	loadInput := req.LoadInput == nil || *req.LoadInput
	loadOutput := req.LoadOutput == nil || *req.LoadOutput
	found, err := dbos.ListWorkflows(v.ctx, dbos.WithFilterWorkflowIDs(req.WorkflowID),
		dbos.WithFilterLoadInput(loadInput && !v.metadataOnly),
		dbos.WithFilterLoadOutput(loadOutput && !v.metadataOnly))
	if err != nil || len(found) == 0 {
		return map[string]any{"output": nil}, err
	}
	return map[string]any{"output": formatWorkflow(found[0])}, nil
}

func (v *verbs) listSteps(data []byte) (any, error) {
	var req struct {
		WorkflowID string `json:"workflow_id"`
		LoadOutput *bool  `json:"load_output"`
		Limit      *int   `json:"limit"`
		Offset     *int   `json:"offset"`
	}
	if err := decode(data, &req); err != nil {
		return map[string]any{"output": nil}, err
	}
	loadOutput := req.LoadOutput == nil || *req.LoadOutput
	opts := []dbos.GetWorkflowStepsOption{dbos.WithStepsLoadOutput(loadOutput && !v.metadataOnly)}
	if req.Limit != nil {
		opts = append(opts, dbos.WithStepsLimit(*req.Limit))
	}
	if req.Offset != nil {
		opts = append(opts, dbos.WithStepsOffset(*req.Offset))
	}
	steps, err := dbos.GetWorkflowSteps(v.ctx, req.WorkflowID, opts...)
	if err != nil {
		return map[string]any{"output": nil}, err
	}
	output := make([]stepOutput, 0, len(steps))
	for _, step := range steps {
		output = append(output, formatStep(step, !v.metadataOnly))
	}
	return map[string]any{"output": output}, nil
}

// stepNumber checks a step number from the protocol (DBOS takes a uint).
func stepNumber(step int) (uint, error) {
	if step < 0 || step > math.MaxInt32/2 {
		return 0, badRequest{fmt.Errorf("step %d is out of range", step)}
	}
	return uint(step), nil // #nosec G115 -- checked above
}

func (v *verbs) fork(data []byte) (any, error) {
	var req struct {
		Body struct {
			WorkflowID         string  `json:"workflow_id"`
			StartStep          int     `json:"start_step"`
			ApplicationVersion *string `json:"application_version"`
			NewWorkflowID      *string `json:"new_workflow_id"`
			QueueName          *string `json:"queue_name"`
			QueuePartitionKey  *string `json:"queue_partition_key"`
		} `json:"body"`
	}
	if err := decode(data, &req); err != nil {
		return map[string]any{}, err
	}
	start, err := stepNumber(req.Body.StartStep)
	if err != nil {
		return map[string]any{}, err
	}
	input := dbos.ForkWorkflowInput{OriginalWorkflowID: req.Body.WorkflowID, StartStep: start}
	if req.Body.NewWorkflowID != nil {
		input.ForkedWorkflowID = *req.Body.NewWorkflowID
	}
	if req.Body.ApplicationVersion != nil {
		input.ApplicationVersion = *req.Body.ApplicationVersion
	}
	if req.Body.QueueName != nil {
		input.QueueName = *req.Body.QueueName
	}
	if req.Body.QueuePartitionKey != nil {
		input.QueuePartitionKey = *req.Body.QueuePartitionKey
	}
	handle, err := dbos.ForkWorkflow[any](v.ctx, input)
	if err != nil {
		return map[string]any{}, err
	}
	v.logger.Info("Forked workflow", "workflow_id", req.Body.WorkflowID, "new_workflow_id", handle.GetWorkflowID())
	return map[string]any{"new_workflow_id": handle.GetWorkflowID()}, nil
}

func (v *verbs) rewind(data []byte) (any, error) {
	var req struct {
		Body struct {
			WorkflowID         string  `json:"workflow_id"`
			StartStep          *int    `json:"start_step"`
			ApplicationVersion *string `json:"application_version"`
			QueueName          *string `json:"queue_name"`
			QueuePartitionKey  *string `json:"queue_partition_key"`
		} `json:"body"`
	}
	if err := decode(data, &req); err != nil {
		return success{}, err
	}
	var opts []dbos.RewindWorkflowOption
	if req.Body.StartStep != nil {
		start, err := stepNumber(*req.Body.StartStep)
		if err != nil {
			return success{}, err
		}
		opts = append(opts, dbos.WithRewindStartStep(start))
	}
	if req.Body.ApplicationVersion != nil {
		opts = append(opts, dbos.WithRewindApplicationVersion(*req.Body.ApplicationVersion))
	}
	if req.Body.QueueName != nil {
		opts = append(opts, dbos.WithRewindQueue(*req.Body.QueueName))
	}
	if req.Body.QueuePartitionKey != nil {
		opts = append(opts, dbos.WithRewindQueuePartitionKey(*req.Body.QueuePartitionKey))
	}
	_, err := dbos.RewindWorkflow[any](v.ctx, req.Body.WorkflowID, opts...)
	return done(err)
}

// forkFromFailure is rebuilt from dbos.GetWorkflowSteps + dbos.ForkWorkflow: each workflow
// forks from the step DBOS's own ForkFrom picks (the last failed step, else the last step; the
// last step; the given step; the last step of the given name).
func (v *verbs) forkFromFailure(data []byte) (any, error) {
	var req struct {
		Body struct {
			WorkflowIDs        []string `json:"workflow_ids"`
			ApplicationVersion *string  `json:"application_version"`
			QueueName          *string  `json:"queue_name"`
			QueuePartitionKey  *string  `json:"queue_partition_key"`
			FromLastFailure    bool     `json:"from_last_failure"`
			FromLastStep       bool     `json:"from_last_step"`
			FromStep           *int     `json:"from_step"`
			FromStepName       *string  `json:"from_step_name"`
		} `json:"body"`
	}
	empty := map[string]any{"forked_workflow_ids": []string{}}
	if err := decode(data, &req); err != nil {
		return empty, err
	}
	body := req.Body
	modes := 0
	for _, chosen := range []bool{body.FromLastFailure, body.FromLastStep, body.FromStep != nil, body.FromStepName != nil} {
		if chosen {
			modes++
		}
	}
	if modes != 1 {
		return empty, badRequest{errors.New("exactly one of from_last_failure, from_last_step, from_step, from_step_name")}
	}
	starts := make([]uint, 0, len(body.WorkflowIDs))
	for _, id := range body.WorkflowIDs {
		start, err := v.forkStart(id, body.FromLastFailure, body.FromStep, body.FromStepName)
		if err != nil {
			return empty, err
		}
		starts = append(starts, start)
	}
	forked := make([]string, 0, len(body.WorkflowIDs))
	for i, id := range body.WorkflowIDs {
		input := dbos.ForkWorkflowInput{OriginalWorkflowID: id, StartStep: starts[i]}
		if body.ApplicationVersion != nil {
			input.ApplicationVersion = *body.ApplicationVersion
		}
		if body.QueueName != nil {
			input.QueueName = *body.QueueName
		}
		if body.QueuePartitionKey != nil {
			input.QueuePartitionKey = *body.QueuePartitionKey
		}
		handle, err := dbos.ForkWorkflow[any](v.ctx, input)
		if err != nil {
			return map[string]any{"forked_workflow_ids": forked}, err
		}
		forked = append(forked, handle.GetWorkflowID())
	}
	return map[string]any{"forked_workflow_ids": forked}, nil
}

func (v *verbs) forkStart(workflowID string, fromLastFailure bool, fromStep *int, fromStepName *string) (uint, error) {
	if fromStep != nil {
		return stepNumber(*fromStep)
	}
	steps, err := dbos.GetWorkflowSteps(v.ctx, workflowID, dbos.WithStepsLoadOutput(false))
	if err != nil {
		return 0, err
	}
	last, lastFailed, named := -1, -1, -1
	for _, step := range steps {
		last = max(last, step.StepID)
		if step.Error != nil {
			lastFailed = max(lastFailed, step.StepID)
		}
		if fromStepName != nil && step.StepName == *fromStepName {
			named = max(named, step.StepID)
		}
	}
	switch {
	case fromStepName != nil && named < 0:
		return 0, fmt.Errorf("workflow %s has no step named %q", workflowID, *fromStepName)
	case fromStepName != nil:
		return stepNumber(named)
	case fromLastFailure && lastFailed >= 0:
		return stepNumber(lastFailed)
	case last >= 0:
		return stepNumber(last)
	default:
		return 0, nil
	}
}

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

// alert hands an alert to the handler the application registered with SetAlertHandler.
func (v *verbs) alert(data []byte) (any, error) {
	var req struct {
		Name     string            `json:"name"`
		Message  string            `json:"message"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := decode(data, &req); err != nil {
		return success{}, err
	}
	var handler dbos.AlertHandler
	if v.runtime != nil {
		handler = v.runtime.AlertHandler()
	}
	if handler == nil {
		v.logger.Info("Alert received (no handler registered)", "name", req.Name, "message", req.Message)
		return success{Success: true}, nil
	}
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic in alert handler: %v", r)
			}
		}()
		handler(req.Name, req.Message, req.Metadata)
	}()
	return done(err)
}

func (v *verbs) schedules(verb string, data []byte) (any, error) {
	var req struct {
		ScheduleName string `json:"schedule_name"`
		LoadContext  *bool  `json:"load_context"`
		Start        string `json:"start"`
		End          string `json:"end"`
		Body         struct {
			Status             stringOrList `json:"status"`
			WorkflowName       stringOrList `json:"workflow_name"`
			ScheduleNamePrefix stringOrList `json:"schedule_name_prefix"`
			ApplicationName    stringOrList `json:"application_name"`
			LoadContext        *bool        `json:"load_context"`
		} `json:"body"`
	}
	if err := decode(data, &req); err != nil {
		return map[string]any{}, err
	}
	loadContext := func(flag *bool) bool { return !v.metadataOnly && (flag == nil || *flag) }
	switch verb {
	case msgListSchedules:
		var opts []dbos.ListSchedulesOption
		if len(req.Body.Status) > 0 {
			statuses := make([]dbos.ScheduleStatus, 0, len(req.Body.Status))
			for _, status := range req.Body.Status {
				statuses = append(statuses, dbos.ScheduleStatus(status))
			}
			opts = append(opts, dbos.WithScheduleStatuses(statuses...))
		}
		if len(req.Body.WorkflowName) > 0 {
			opts = append(opts, dbos.WithScheduleWorkflowNames(req.Body.WorkflowName...))
		}
		if len(req.Body.ScheduleNamePrefix) > 0 {
			opts = append(opts, dbos.WithScheduleNamePrefixes(req.Body.ScheduleNamePrefix...))
		}
		if len(req.Body.ApplicationName) > 0 {
			opts = append(opts, dbos.WithScheduleApplicationNames(req.Body.ApplicationName...))
		}
		found, err := dbos.ListSchedules(v.ctx, opts...)
		output := make([]scheduleOutput, 0, len(found))
		for _, schedule := range found {
			output = append(output, formatSchedule(schedule, loadContext(req.Body.LoadContext)))
		}
		return map[string]any{"output": output}, err
	case msgGetSchedule:
		schedule, err := dbos.GetSchedule(v.ctx, req.ScheduleName)
		if errors.Is(err, dbos.ErrScheduleNotFound) {
			return map[string]any{"output": nil}, nil
		}
		if err != nil {
			return map[string]any{"output": nil}, err
		}
		return map[string]any{"output": formatSchedule(schedule, loadContext(req.LoadContext))}, nil
	case msgPauseSchedule:
		return done(dbos.PauseSchedule(v.ctx, req.ScheduleName))
	case msgResumeSchedule:
		return done(dbos.ResumeSchedule(v.ctx, req.ScheduleName))
	case msgBackfillSchedule:
		empty := map[string]any{"workflow_ids": []string{}}
		start, err := parseTime(req.Start)
		if err != nil {
			return empty, err
		}
		end, err := parseTime(req.End)
		if err != nil {
			return empty, err
		}
		ids, err := dbos.BackfillSchedule(v.ctx, req.ScheduleName, start, end)
		if err != nil || ids == nil {
			return empty, err
		}
		return map[string]any{"workflow_ids": ids}, nil
	default: // trigger
		handle, err := dbos.TriggerSchedule[any](v.ctx, req.ScheduleName)
		if err != nil {
			return map[string]any{"workflow_id": nil}, err
		}
		return map[string]any{"workflow_id": handle.GetWorkflowID()}, nil
	}
}

func parseTime(value string) (time.Time, error) {
	parsed, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return time.Time{}, badRequest{fmt.Errorf("time %q is not ISO 8601: %w", value, err)}
	}
	return parsed, nil
}
