package batonconnector

// The connector without DBOS: its session with a websocket peer in the test (path, replies to
// what needs no DBOS call, reconnect after a close, 1000 at shutdown) and its wire rendering.
// What needs a running DBOS app is covered by Baton's conformance tier (see the README).

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	"github.com/gorilla/websocket"
)

// peer is a conductor in the test: it records each session's path and close code, and hands
// the sessions to the test.
type peer struct {
	server   *httptest.Server
	sessions chan *websocket.Conn
	mu       sync.Mutex
	paths    []string
	closes   []int
}

func newPeer(t *testing.T) *peer {
	p := &peer{sessions: make(chan *websocket.Conn, 4)}
	upgrader := websocket.Upgrader{}
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		p.mu.Lock()
		p.paths = append(p.paths, r.URL.Path)
		p.mu.Unlock()
		conn.SetCloseHandler(func(code int, text string) error {
			p.mu.Lock()
			p.closes = append(p.closes, code)
			p.mu.Unlock()
			return conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
		})
		p.sessions <- conn
	}))
	t.Cleanup(p.server.Close)
	return p
}

func (p *peer) url() string { return "ws" + strings.TrimPrefix(p.server.URL, "http") }

func (p *peer) next(t *testing.T) *websocket.Conn {
	select {
	case conn := <-p.sessions:
		return conn
	case <-time.After(5 * time.Second):
		t.Fatal("the connector did not connect")
		return nil
	}
}

func request(t *testing.T, conn *websocket.Conn, frame string) map[string]any {
	t.Helper()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatalf("send: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("no reply to %s: %v", frame, err)
	}
	var reply map[string]any
	if err := json.Unmarshal(data, &reply); err != nil {
		t.Fatalf("reply is not JSON: %s", data)
	}
	return reply
}

func TestSessionRepliesReconnectsAndClosesWith1000(t *testing.T) {
	p := newPeer(t)
	conn, err := New(nil, dbos.ConductorOptions{AppName: "shop", URL: p.url(), APIKey: "k3y"})
	if err != nil {
		t.Fatal(err)
	}
	conn.Launch()
	first := p.next(t)

	unknown := request(t, first, `{"type":"frobnicate","request_id":"r1"}`)
	if unknown["error_message"] != "Unknown message type" || unknown["type"] != "frobnicate" || unknown["request_id"] != "r1" {
		t.Fatalf("unknown type: %v", unknown)
	}
	metrics := request(t, first, `{"type":"get_metrics","request_id":"r2"}`)
	message, _ := metrics["error_message"].(string)
	if !strings.HasPrefix(message, "get_metrics is not supported by this client (baton-connector "+Version) {
		t.Fatalf("get_metrics: %v", metrics)
	}
	bad := request(t, first, `{"type":"cancel","request_id":"r3","workflow_ids":"not-a-list"}`)
	if message, _ := bad["error_message"].(string); !strings.HasPrefix(message, "bad request: ") || bad["success"] != false {
		t.Fatalf("bad request: %v", bad)
	}

	closedAt := time.Now()
	_ = first.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""))
	_ = first.Close()
	second := p.next(t)
	if waited := time.Since(closedAt); waited < 900*time.Millisecond || waited > 3*time.Second {
		t.Fatalf("reconnected after %v, not about 1 s", waited)
	}
	go func() { // read until the close, so the close handler answers it
		for {
			if _, _, err := second.ReadMessage(); err != nil {
				return
			}
		}
	}()
	if err := conn.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The peer reads the close frame in its own goroutine: give it a moment.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		p.mu.Lock()
		received := len(p.closes)
		p.mu.Unlock()
		if received > 0 {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.paths) != 2 || p.paths[0] != "/websocket/shop/k3y" || p.paths[1] != p.paths[0] {
		t.Fatalf("paths: %v", p.paths)
	}
	if len(p.closes) != 1 || p.closes[0] != websocket.CloseNormalClosure {
		t.Fatalf("close codes the peer received: %v (want [1000])", p.closes)
	}
}

func TestNewRefusesAnIncompleteConfiguration(t *testing.T) {
	for _, opts := range []dbos.ConductorOptions{
		{AppName: "shop", URL: "ws://baton:8090"},
		{AppName: "shop", APIKey: "k"},
		{URL: "ws://baton:8090", APIKey: "k"},
		{AppName: "shop", URL: "http://baton:8090", APIKey: "k"},
	} {
		if _, err := New(nil, opts); err == nil {
			t.Errorf("New accepted %+v", opts)
		}
	}
}

func TestAWorkflowRendersAsDBOSGoClientRendersIt(t *testing.T) {
	created := time.UnixMilli(1_700_000_000_123)
	out := formatWorkflow(dbos.WorkflowStatus{
		ID: "wf-1", Status: dbos.WorkflowStatusPending, Name: "multi_step", CreatedAt: created,
		StartedAt: created.Add(time.Second), Input: `{"n":3}`, Output: map[string]int{"a": 1},
		Timeout: 90 * time.Second,
	})
	data, _ := json.Marshal(out)
	var got map[string]any
	_ = json.Unmarshal(data, &got)
	want := map[string]any{
		"WorkflowUUID": "wf-1", "Status": "PENDING", "WorkflowName": "multi_step",
		"CreatedAt": "1700000000123", "DequeuedAt": "1700000001123", "Input": `{"n":3}`,
		"Output": `{"a":1}`, "Priority": "0", "WasForkedFrom": false, "WorkflowTimeoutMS": "90000",
	}
	if len(got) != len(want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for key, value := range want {
		if got[key] != value {
			t.Errorf("%s = %v, want %v", key, got[key], value)
		}
	}
}

func TestAFilterIsAStringOrAList(t *testing.T) {
	var body listBody
	if err := json.Unmarshal([]byte(`{"workflow_name":"a","status":["PENDING","ERROR"],"queue_name":null}`), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.WorkflowName) != 1 || body.WorkflowName[0] != "a" || len(body.Status) != 2 || body.QueueName != nil {
		t.Fatalf("%+v", body)
	}
}

func TestAnUnknownRecoveryStrategyIsRefused(t *testing.T) {
	if err := UseRecovery("sideways"); err == nil {
		t.Fatal("UseRecovery accepted an unknown strategy")
	}
	if err := UseRecovery(PublicResume); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = UseRecovery("") }()
	v := newVerbs(nil, nil, dbos.ConductorOptions{ExecutorMetadata: map[string]any{"team": "a"}}, nil)
	if v.strategy != PublicResume || v.metadata["recovery"] != "public_resume" || v.metadata["team"] != "a" {
		t.Fatalf("strategy %q, metadata %v", v.strategy, v.metadata)
	}
}

func TestShutdownBeforeLaunchReturnsAtOnce(t *testing.T) {
	conn, err := New(nil, dbos.ConductorOptions{AppName: "shop", URL: "ws://127.0.0.1:1", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := conn.Shutdown(5 * time.Second); err != nil || time.Since(started) > time.Second {
		t.Fatalf("Shutdown before Launch: %v after %v", err, time.Since(started))
	}
	conn.Launch() // after Shutdown: nothing starts
}
