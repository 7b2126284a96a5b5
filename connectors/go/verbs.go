package batonconnector

// The answer to each request: DBOS's public API (dbos.Context's Client calls) for every verb it
// serves, dbos/internals.Runtime for recovery and the alert handler, and a "not supported by
// this client" reply for the verbs nothing public serves (see the README's table).

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// dispatch answers one verb: each arm is one call.
func (v *verbs) dispatch(verb string, data []byte) (any, error) {
	if _, refused := unsupported[verb]; refused {
		return nil, v.refuse(verb)
	}
	switch verb {
	case msgExecutorInfo:
		return v.executorInfo(), nil
	case msgRecovery:
		return v.recovery(data)
	case msgCancel, msgResume, msgDelete:
		return v.act(verb, data)
	case msgListWorkflows, msgListQueuedWorkflows:
		return v.listWorkflows(data, verb == msgListQueuedWorkflows)
	case msgGetWorkflow:
		return v.getWorkflow(data)
	case msgListSteps:
		return v.listSteps(data)
	case msgExistPending:
		return v.existPending(data)
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
		return v.listVersions()
	case msgSetLatestAppVersion:
		return v.setLatestVersion(data)
	case msgListQueues:
		return v.listQueues(data)
	case msgGetQueue:
		return v.getQueue(data)
	case msgGetWorkflowAggregates:
		return v.workflowAggregates(data)
	case msgGetStepAggregates:
		return v.stepAggregates(data)
	default:
		return nil, refusal(unknownMessageType)
	}
}

// recovery takes over the PENDING workflows of the named (dead) executors (see recovery.go).
func (v *verbs) recovery(data []byte) (any, error) {
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
}

func (v *verbs) listWorkflows(data []byte, queued bool) (any, error) {
	var req struct {
		Body listBody `json:"body"`
	}
	if err := decode(data, &req); err != nil {
		return map[string]any{"output": []any{}}, err
	}
	found, err := dbos.ListWorkflows(v.ctx, v.listOptions(req.Body, queued)...)
	return listReply(found, formatWorkflow, err)
}

func (v *verbs) existPending(data []byte) (any, error) {
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
}

func (v *verbs) listVersions() (any, error) {
	versions, err := dbos.ListApplicationVersions(v.ctx)
	return listReply(versions, formatVersion, err)
}

func (v *verbs) setLatestVersion(data []byte) (any, error) {
	var req struct {
		VersionName string `json:"version_name"`
	}
	if err := decode(data, &req); err != nil {
		return success{}, err
	}
	return done(dbos.SetLatestApplicationVersion(v.ctx, req.VersionName))
}

func (v *verbs) listQueues(data []byte) (any, error) {
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
	return listReply(queues, formatQueue, err)
}

func (v *verbs) getQueue(data []byte) (any, error) {
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
	withError := !v.metadataOnly
	return listReply(steps, func(step dbos.StepInfo) stepOutput { return formatStep(step, withError) }, nil)
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
