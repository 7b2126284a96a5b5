package batonconnector

// The schedule verbs: the dbos schedule calls, one to one.

import (
	"errors"
	"fmt"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
)

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
		withContext := loadContext(req.Body.LoadContext)
		return listReply(found, func(s dbos.WorkflowSchedule) scheduleOutput { return formatSchedule(s, withContext) }, err)
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
