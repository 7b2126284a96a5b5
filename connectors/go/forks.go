package batonconnector

// fork_workflow, rewind_workflow and fork_from_failure: dbos.ForkWorkflow and
// dbos.RewindWorkflow; fork from failure rebuilt from dbos.GetWorkflowSteps (DBOS's own Go client
// v1.6.0 called the system database's ForkFrom, which nothing public exposes).

import (
	"errors"
	"fmt"
	"math"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
)

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
	setIfPresent(&input.ForkedWorkflowID, req.Body.NewWorkflowID)
	setIfPresent(&input.ApplicationVersion, req.Body.ApplicationVersion)
	setIfPresent(&input.QueueName, req.Body.QueueName)
	setIfPresent(&input.QueuePartitionKey, req.Body.QueuePartitionKey)
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
