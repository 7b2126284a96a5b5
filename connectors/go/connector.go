// Package batonconnector connects a DBOS Go application (dbos-transact-golang v1.7 to v1.9) to a
// Baton conductor.
//
// Since v1.7.0 the open DBOS Go module has no Conductor client of its own: it exports
// dbos.RegisterConductorFactory, and a Context configured with ConductorURL and ConductorAPIKey
// asks the registered factory for its client. Importing this package registers Baton's:
//
//	import _ "baton.local/batonconnector"
//
// The application then sets ConductorURL (Baton's gateway, e.g. ws://baton:8090) and
// ConductorAPIKey in its dbos.Config exactly as with DBOS's own client up to v1.6.0.
package batonconnector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	"github.com/gorilla/websocket"
)

var errStopping = errors.New("the connector is stopping")

// Version is this connector's release, reported in executor_metadata.
const Version = "0.1.0"

// DBOSModule is the module whose version the connector reports as dbos_version.
const DBOSModule = "github.com/dbos-inc/dbos-transact-golang"

const (
	pingInterval       = 20 * time.Second
	pingTimeout        = 30 * time.Second // beyond the gateway's own ping wait
	reconnectWait      = 1 * time.Second  // after a close, as DBOS's stock client
	maxReconnectWait   = 30 * time.Second // after failed dials, doubling from reconnectWait
	handshakeTimeout   = 10 * time.Second
	writeDeadline      = 5 * time.Second
	closeReplyDeadline = 2 * time.Second
)

func init() {
	dbos.RegisterConductorFactory(New)
}

// New is the dbos.ConductorFactory this package registers when imported. Registering it by hand
// (dbos.RegisterConductorFactory(batonconnector.New)) is the same.
func New(ctx dbos.Context, opts dbos.ConductorOptions) (dbos.ConductorConnection, error) {
	if opts.APIKey == "" {
		return nil, errors.New("baton-connector: ConductorAPIKey is required")
	}
	if opts.URL == "" {
		return nil, errors.New("baton-connector: ConductorURL is required")
	}
	if opts.AppName == "" {
		return nil, errors.New("baton-connector: the application name (Config.AppName) is required")
	}
	base, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("baton-connector: invalid ConductorURL: %w", err)
	}
	if base.Scheme != "ws" && base.Scheme != "wss" {
		return nil, fmt.Errorf("baton-connector: ConductorURL %q must start with ws:// or wss://", opts.URL)
	}
	target := url.URL{
		Scheme: base.Scheme,
		Host:   base.Host,
		Path:   base.JoinPath("websocket", opts.AppName, opts.APIKey).Path,
	}
	logger := slog.Default()
	runtime := runtimeOf(ctx)
	if runtime != nil {
		logger = runtime.Logger()
	}
	c := &Connection{
		ctx:    ctx,
		url:    target,
		logger: logger.With("service", "baton-connector"),
		done:   make(chan struct{}),
		stop:   make(chan struct{}),
	}
	c.verbs = newVerbs(ctx, runtime, opts, c.logger)
	return c, nil
}

// Connection is the connector's session with Baton for the life of a launched Context: it
// connects in the background, answers each request in order, reconnects after a close and
// closes with 1000 when DBOS shuts it down.
type Connection struct {
	ctx    dbos.Context
	url    url.URL
	logger *slog.Logger
	verbs  *verbs

	mu       sync.Mutex
	conn     *websocket.Conn
	launched bool
	stopping bool
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// Launch starts connecting; DBOS calls it at the end of Launch.
func (c *Connection) Launch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.launched || c.stopping {
		return
	}
	c.launched = true
	c.logger.Info("Launching the Baton connector", "recovery", string(c.verbs.strategy))
	go c.run()
}

// Shutdown closes the session with 1000 and stops reconnecting; DBOS calls it once its
// workflows have drained, so the session outlives them.
func (c *Connection) Shutdown(timeout time.Duration) error {
	var err error
	c.stopOnce.Do(func() {
		c.mu.Lock()
		c.stopping = true
		conn, launched := c.conn, c.launched
		c.mu.Unlock()
		close(c.stop)
		if !launched { // a Launch that failed before reaching the connector
			return
		}
		if conn != nil {
			c.writeClose(conn)
		}
		select {
		case <-c.done:
			c.logger.Info("Baton connector shut down")
		case <-time.After(timeout):
			err = fmt.Errorf("baton-connector did not stop within %v", timeout)
		}
	})
	return err
}

// writeClose sends the 1000 close frame, waits briefly for the peer's answer, then drops the
// socket (which ends the read loop).
func (c *Connection) writeClose(conn *websocket.Conn) {
	c.mu.Lock()
	_ = conn.SetWriteDeadline(time.Now().Add(writeDeadline))
	err := conn.WriteMessage(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, "shutting down"))
	c.mu.Unlock()
	if err != nil {
		c.logger.Debug("Failed to send the close frame", "error", err)
		_ = conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(closeReplyDeadline))
}

func (c *Connection) stopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping
}

// sleep waits d unless the connector stops first; false: it stopped.
func (c *Connection) sleep(d time.Duration) bool {
	select {
	case <-c.stop:
		return false
	case <-time.After(d):
		return true
	}
}

func (c *Connection) run() {
	defer close(c.done)
	wait := reconnectWait
	for !c.stopped() {
		conn, err := c.dial()
		if errors.Is(err, errStopping) {
			return
		}
		if err != nil {
			c.logger.Warn("Failed to connect to Baton", "url", c.redactedURL(), "error", err)
			// Jitter between 0.5 and 1.5 times the wait, as DBOS's stock client.
			if !c.sleep(time.Duration(float64(wait) * (0.5 + rand.Float64()))) { // #nosec G404
				return
			}
			wait = min(2*wait, maxReconnectWait)
			continue
		}
		wait = reconnectWait
		c.logger.Info("Connected to Baton")
		c.serve(conn)
		if c.stopped() {
			return
		}
		if !c.sleep(reconnectWait) {
			return
		}
	}
}

func (c *Connection) redactedURL() string {
	// The path holds the key: only the scheme and host are logged.
	return c.url.Scheme + "://" + c.url.Host
}

func (c *Connection) dial() (*websocket.Conn, error) {
	dialer := websocket.Dialer{HandshakeTimeout: handshakeTimeout}
	conn, resp, err := dialer.Dial(c.url.String(), nil)
	if err != nil {
		if resp != nil && resp.Body != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			return nil, fmt.Errorf("%w (HTTP %d: %s)", err, resp.StatusCode, body)
		}
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping { // Shutdown came during the handshake: this session, too, ends with 1000
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "shutting down"),
			time.Now().Add(writeDeadline))
		_ = conn.Close()
		return nil, errStopping
	}
	c.conn = conn
	return conn, nil
}

// serve reads and answers requests until the session ends, pinging Baton meanwhile.
func (c *Connection) serve(conn *websocket.Conn) {
	defer func() {
		c.mu.Lock()
		c.conn = nil
		c.mu.Unlock()
		_ = conn.Close()
	}()
	_ = conn.SetReadDeadline(time.Now().Add(pingTimeout))
	conn.SetPongHandler(func(string) error {
		if c.stopped() {
			return nil
		}
		return conn.SetReadDeadline(time.Now().Add(pingTimeout))
	})
	pingCtx, cancelPing := context.WithCancel(context.Background())
	defer cancelPing()
	go c.ping(pingCtx, conn)
	for {
		kind, data, err := conn.ReadMessage()
		if err != nil {
			var closed *websocket.CloseError
			if c.stopped() {
				c.logger.Debug("Session closed", "error", err)
			} else if errors.As(err, &closed) {
				c.logger.Info("Baton closed the session", "code", closed.Code)
			} else {
				c.logger.Warn("Session with Baton lost", "error", err)
			}
			return
		}
		if c.stopped() {
			continue // draining until Baton answers the close
		}
		if kind != websocket.TextMessage {
			c.logger.Warn("Ignoring a non-text frame", "type", kind)
			continue
		}
		// Any frame shows the peer alive, as a pong does.
		_ = conn.SetReadDeadline(time.Now().Add(pingTimeout))
		reply := c.verbs.answer(data)
		if err := c.write(conn, reply); err != nil {
			c.logger.Warn("Failed to send a reply", "error", err)
			return
		}
	}
}

func (c *Connection) write(conn *websocket.Conn, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return nil
	}
	_ = conn.SetWriteDeadline(time.Now().Add(writeDeadline))
	return conn.WriteMessage(websocket.TextMessage, data)
}

func (c *Connection) ping(ctx context.Context, conn *websocket.Conn) {
	ticker := time.NewTicker(pingInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			c.mu.Lock()
			var err error
			if !c.stopping {
				err = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeDeadline))
			}
			c.mu.Unlock()
			if err != nil {
				c.logger.Debug("Ping failed", "error", err)
				_ = conn.Close() // the read loop ends and the connector reconnects
				return
			}
		}
	}
}

// dbosVersion is the DBOS module's version in this binary's build information.
func dbosVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == DBOSModule {
			if dep.Replace != nil && dep.Replace.Version != "" {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return "unknown"
}

func hostname() *string {
	name, err := os.Hostname()
	if err != nil {
		return nil
	}
	return &name
}
