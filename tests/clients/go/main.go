// A real DBOS Go application that Baton's conformance tests run in subprocesses.
//
// It implements the environment and HTTP control contract documented at the top of
// tests/dbos_app/executor_app.py (the Python app): a READY line on stdout, GET /executor,
// POST /start, GET /status, POST /cancel; every other control endpoint answers 501.
// Workflows: multi_step, quick, failing, parent (runs quick as a child workflow); the
// queue "serial" runs one workflow at a time across the app.
//
// DBOS Go numbers steps from 0: multi_step's step k is function id k-1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
)

const shutdownDeadline = 5 * time.Second

type settings struct {
	appName      string
	systemDBURL  string
	conductorURL string
	conductorKey string
	appVersion   string
	markerDir    string
	controlPort  int
	logLevel     string
}

func settingsFromEnv() (settings, error) {
	required := func(name string) (string, error) {
		value := os.Getenv(name)
		if value == "" {
			return "", fmt.Errorf("environment variable %s is required", name)
		}
		return value, nil
	}
	var s settings
	var err error
	if s.appName, err = required("BATON_TEST_APP_NAME"); err != nil {
		return s, err
	}
	if s.systemDBURL, err = required("BATON_TEST_SYSTEM_DB_URL"); err != nil {
		return s, err
	}
	if s.markerDir, err = required("BATON_TEST_MARKER_DIR"); err != nil {
		return s, err
	}
	s.conductorURL = os.Getenv("BATON_TEST_CONDUCTOR_URL")
	s.conductorKey = os.Getenv("BATON_TEST_CONDUCTOR_KEY")
	s.appVersion = os.Getenv("BATON_TEST_APP_VERSION")
	s.logLevel = os.Getenv("BATON_TEST_LOG_LEVEL")
	if port := os.Getenv("BATON_TEST_CONTROL_PORT"); port != "" {
		if s.controlPort, err = strconv.Atoi(port); err != nil {
			return s, fmt.Errorf("BATON_TEST_CONTROL_PORT: %w", err)
		}
	}
	return s, nil
}

// app holds what workflows and handlers share; set once in main before Launch.
type app struct {
	ctx       dbos.Context
	settings  settings
	serial    dbos.Queue
	markerMux sync.Mutex
}

var theApp app

// MultiStepInput is multi_step's input.
type MultiStepInput struct {
	N           int     `json:"n"`
	StepSeconds float64 `json:"step_seconds"`
}

// appendMarker records "<workflow_id> <step_no> <executor_id>", fsynced, so a SIGKILL right
// after the step never loses its marker.
func appendMarker(workflowID string, stepNo int) error {
	theApp.markerMux.Lock()
	defer theApp.markerMux.Unlock()
	path := filepath.Join(theApp.settings.markerDir, workflowID+".steps")
	file, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer file.Close()
	line := fmt.Sprintf("%s %d %s\n", workflowID, stepNo, dbos.GetExecutorID(theApp.ctx))
	if _, err := file.WriteString(line); err != nil {
		return err
	}
	return file.Sync()
}

func multiStep(ctx dbos.Context, input MultiStepInput) (string, error) {
	workflowID, err := dbos.GetWorkflowID(ctx)
	if err != nil {
		return "", err
	}
	ranBy := make([]string, 0, input.N)
	for stepNo := 1; stepNo <= input.N; stepNo++ {
		number := stepNo
		executor, err := dbos.RunAsStep(ctx, func(stepCtx context.Context) (string, error) {
			if err := appendMarker(workflowID, number); err != nil {
				return "", err
			}
			time.Sleep(time.Duration(input.StepSeconds * float64(time.Second)))
			return dbos.GetExecutorID(theApp.ctx), nil
		}, dbos.WithStepName("marked_step"))
		if err != nil {
			return "", err
		}
		ranBy = append(ranBy, executor)
	}
	return fmt.Sprintf("%s ran %d steps: %s", workflowID, input.N, strings.Join(ranBy, " ")), nil
}

func quick(ctx dbos.Context, x int) (int, error) {
	return x * 2, nil
}

func failing(ctx dbos.Context, message string) (int, error) {
	if _, err := dbos.RunAsStep(ctx, func(stepCtx context.Context) (int, error) {
		return len(message), nil
	}, dbos.WithStepName("prepare")); err != nil {
		return 0, err
	}
	return 0, errors.New(message)
}

// parent runs quick(x) as a child workflow and returns its result.
func parent(ctx dbos.Context, x int) (int, error) {
	handle, err := dbos.RunWorkflow(ctx, quick, x)
	if err != nil {
		return 0, err
	}
	return handle.GetResult()
}

// startWorkflow starts (or, with a queue, enqueues) workflow name under workflowID.
func startWorkflow(name, workflowID string, params map[string]string, queue string) error {
	opts := []dbos.WorkflowOption{dbos.WithWorkflowID(workflowID)}
	if queue != "" {
		if queue != "serial" {
			return fmt.Errorf("unknown queue %q", queue)
		}
		opts = append(opts, dbos.WithQueue(theApp.serial))
	}
	intParam := func(key string) (int, error) {
		value, ok := params[key]
		if !ok {
			return 0, fmt.Errorf("missing parameter %q", key)
		}
		return strconv.Atoi(value)
	}
	ctx := theApp.ctx
	var err error
	switch name {
	case "multi_step":
		var input MultiStepInput
		if input.N, err = intParam("n"); err != nil {
			return err
		}
		raw, ok := params["step_seconds"]
		if !ok {
			return errors.New("missing parameter \"step_seconds\"")
		}
		if input.StepSeconds, err = strconv.ParseFloat(raw, 64); err != nil {
			return err
		}
		_, err = dbos.RunWorkflow(ctx, multiStep, input, opts...)
	case "quick", "parent":
		x, perr := intParam("x")
		if perr != nil {
			return perr
		}
		if name == "quick" {
			_, err = dbos.RunWorkflow(ctx, quick, x, opts...)
		} else {
			_, err = dbos.RunWorkflow(ctx, parent, x, opts...)
		}
	case "failing":
		message, ok := params["message"]
		if !ok {
			return errors.New("missing parameter \"message\"")
		}
		_, err = dbos.RunWorkflow(ctx, failing, message, opts...)
	default:
		return fmt.Errorf("unknown workflow %q", name)
	}
	return err
}

func reply(w http.ResponseWriter, code int, body any) {
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

func query(r *http.Request) map[string]string {
	values := map[string]string{}
	for key, all := range r.URL.Query() {
		values[key] = all[len(all)-1]
	}
	return values
}

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /executor", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]any{
			"executor_id": dbos.GetExecutorID(theApp.ctx),
			"app_version": dbos.GetApplicationVersion(theApp.ctx),
			"app_name":    theApp.settings.appName,
		})
	})
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		params := query(r)
		workflowID, name, queue := params["id"], params["workflow"], params["queue"]
		delete(params, "id")
		delete(params, "workflow")
		delete(params, "queue")
		if err := startWorkflow(name, workflowID, params, queue); err != nil {
			reply(w, 400, map[string]any{"error": "bad start request: " + err.Error()})
			return
		}
		reply(w, 200, map[string]any{"workflow_id": workflowID})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		workflowID := query(r)["id"]
		statuses, err := dbos.ListWorkflows(theApp.ctx, dbos.WithFilterWorkflowIDs(workflowID))
		if err != nil {
			reply(w, 500, map[string]any{"error": err.Error()})
			return
		}
		if len(statuses) == 0 {
			reply(w, 404, map[string]any{"error": "unknown workflow"})
			return
		}
		status := statuses[0]
		var output, failure any
		if status.Output != nil {
			output = fmt.Sprint(status.Output)
		}
		if status.Error != nil {
			failure = status.Error.Error()
		}
		reply(w, 200, map[string]any{
			"workflow_id": status.ID,
			"status":      string(status.Status),
			"executor_id": status.ExecutorID,
			"app_version": status.ApplicationVersion,
			"output":      output,
			"error":       failure,
		})
	})
	mux.HandleFunc("GET /forks", func(w http.ResponseWriter, r *http.Request) {
		forks, err := dbos.ListWorkflows(theApp.ctx,
			dbos.WithFilterForkedFrom(query(r)["id"]),
			dbos.WithFilterLoadInput(false), dbos.WithFilterLoadOutput(false))
		if err != nil {
			reply(w, 500, map[string]any{"error": err.Error()})
			return
		}
		ids := make([]string, 0, len(forks))
		for _, fork := range forks { // DBOS lists oldest first unless asked to sort descending
			ids = append(ids, fork.ID)
		}
		reply(w, 200, map[string]any{"workflow_ids": ids})
	})
	mux.HandleFunc("POST /cancel", func(w http.ResponseWriter, r *http.Request) {
		workflowID := query(r)["id"]
		if err := dbos.CancelWorkflow(theApp.ctx, workflowID); err != nil {
			reply(w, 500, map[string]any{"error": err.Error()})
			return
		}
		reply(w, 200, map[string]any{"workflow_id": workflowID})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 501, map[string]any{"error": "not implemented by the Go app: " + r.Method + " " + r.URL.Path})
	})
	return mux
}

func logLevel(name string) slog.Level {
	var level slog.Level
	if err := level.UnmarshalText([]byte(name)); err != nil {
		return slog.LevelInfo
	}
	return level
}

func run() error {
	s, err := settingsFromEnv()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.markerDir, 0o755); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(s.logLevel)}))
	ctx, err := dbos.NewContext(context.Background(), dbos.Config{
		AppName:            s.appName,
		DatabaseURL:        s.systemDBURL,
		ConductorURL:       s.conductorURL,
		ConductorAPIKey:    s.conductorKey,
		ApplicationVersion: s.appVersion,
		Logger:             logger,
	})
	if err != nil {
		return fmt.Errorf("dbos.NewContext: %w", err)
	}
	theApp.ctx = ctx
	theApp.settings = s
	dbos.RegisterWorkflow(ctx, multiStep, dbos.WithWorkflowName("multi_step"))
	dbos.RegisterWorkflow(ctx, quick, dbos.WithWorkflowName("quick"))
	dbos.RegisterWorkflow(ctx, failing, dbos.WithWorkflowName("failing"))
	dbos.RegisterWorkflow(ctx, parent, dbos.WithWorkflowName("parent"))
	if theApp.serial, err = dbos.RegisterQueue(ctx, "serial", dbos.WithGlobalConcurrency(1)); err != nil {
		return fmt.Errorf("register queue: %w", err)
	}
	if err := dbos.Launch(ctx); err != nil {
		return fmt.Errorf("dbos.Launch: %w", err)
	}

	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.controlPort))
	if err != nil {
		return err
	}
	server := &http.Server{Handler: handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(listener) }()
	port := listener.Addr().(*net.TCPAddr).Port
	fmt.Printf("READY %s %d\n", dbos.GetExecutorID(ctx), port)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
	// Stop promptly: workflows in flight are abandoned, as after a crash.
	watchdog := time.AfterFunc(shutdownDeadline, func() { os.Exit(3) })
	defer watchdog.Stop()
	_ = server.Close()
	_ = dbos.Shutdown(ctx, 2*time.Second)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "executor app failed:", err)
		os.Exit(1)
	}
}
