// The connector's websocket: connects to the conductor, answers each request, and reconnects 1 s
// after any close or failed attempt, like the stock client. It pings every 20 s and reconnects
// when no pong (or other frame) arrives within 15 s (the stock client's periods). The connector's
// one adapter of `ws`.
//
// Requests are answered as they come, each on its own (a slow one does not hold the others), as
// the stock client does. `stop` is idempotent: it closes the socket with 1000 (normal closure)
// and stops reconnecting.
'use strict';

const WebSocket = require('ws');
const protocol = require('./protocol');
const { ProtocolError } = require('./errors');

const RECONNECT_DELAY_MS = 1000;
const HANDSHAKE_TIMEOUT_MS = 5000;
const PING_PERIOD_MS = 20000;
const PING_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000;

class ConductorSocket {
  /**
   * @param {string} url the full websocket URL (with the key)
   * @param {(request: protocol.Request) => Promise<object>} answer a request's reply fields
   * @param {{ shownUrl: string, logger: { info: Function, warn: Function, debug: Function } }} options
   */
  constructor(url, answer, { shownUrl, logger }) {
    this.url = url;
    this.answer = answer;
    this.shownUrl = shownUrl;
    this.logger = logger;
    this.stopping = false;
    this.websocket = undefined;
    this.reconnectTimer = undefined;
    this.pingTimer = undefined;
    this.pongTimer = undefined;
    this.connected = false;
    this.waiters = [];
    this.warnedDown = false;
  }

  start() {
    this.open();
  }

  /** Resolve true once a session is open, false after `timeoutMs`. */
  waitConnected(timeoutMs) {
    if (this.connected) {
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }

  /** Close with 1000 and stop reconnecting (idempotent); resolves once the socket is closed. */
  stop() {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    this.clearPing();
    const websocket = this.websocket;
    if (websocket === undefined || websocket.readyState === WebSocket.CLOSED) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        websocket.terminate();
        resolve();
      }, STOP_TIMEOUT_MS);
      websocket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (websocket.readyState === WebSocket.CONNECTING) {
        websocket.terminate();
      } else {
        websocket.close(1000);
      }
    });
  }

  open() {
    this.reconnectTimer = undefined;
    if (this.stopping) {
      return;
    }
    let websocket;
    try {
      websocket = new WebSocket(this.url, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    } catch (error) {
      // Never thrown out of a timer into the application: try again later.
      this.down(`cannot connect to the conductor at ${this.shownUrl}: ${error.message}`);
      this.reconnectTimer = setTimeout(() => this.open(), RECONNECT_DELAY_MS);
      return;
    }
    this.websocket = websocket;
    let opened = false;
    websocket.on('open', () => {
      opened = true;
      this.warnedDown = false;
      this.connected = true;
      this.logger.info(`baton-connector: connected to the conductor at ${this.shownUrl}`);
      for (const waiter of this.waiters.splice(0)) {
        waiter();
      }
      this.armPing(websocket);
    });
    websocket.on('pong', () => clearTimeout(this.pongTimer));
    websocket.on('message', (data, isBinary) => {
      clearTimeout(this.pongTimer);
      if (isBinary) {
        this.logger.warn('baton-connector: ignored a binary frame from the conductor');
        return;
      }
      this.reply(websocket, data.toString('utf-8'));
    });
    websocket.on('unexpected-response', (_request, response) => {
      this.down(`the conductor at ${this.shownUrl} refused the connection: HTTP ${response.statusCode}`);
      websocket.terminate();
    });
    websocket.on('error', (error) => {
      if (opened) {
        this.logger.warn(`baton-connector: conductor connection failed: ${error.message}`);
      } else {
        this.down(`cannot reach the conductor at ${this.shownUrl}: ${error.message}`);
      }
    });
    websocket.on('close', (code) => {
      this.connected = false;
      this.clearPing();
      if (this.websocket === websocket) {
        this.websocket = undefined;
      }
      if (this.stopping) {
        this.logger.info('baton-connector: closed the conductor connection');
        return;
      }
      if (opened) {
        this.logger.info(`baton-connector: conductor connection closed (code ${code}); reconnecting`);
      }
      if (this.reconnectTimer === undefined) {
        this.reconnectTimer = setTimeout(() => this.open(), RECONNECT_DELAY_MS);
      }
    });
  }

  /** A failed attempt: a warning for the first one since the last session, debug for the rest
   * (an unreachable conductor is retried every second). */
  down(message) {
    if (this.warnedDown) {
      this.logger.debug(`baton-connector: ${message}`);
    } else {
      this.warnedDown = true;
      this.logger.warn(`baton-connector: ${message}; retrying every ${RECONNECT_DELAY_MS / 1000} s`);
    }
  }

  armPing(websocket) {
    this.clearPing();
    this.pingTimer = setInterval(() => {
      if (websocket.readyState !== WebSocket.OPEN) {
        return;
      }
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => {
        this.logger.warn('baton-connector: the conductor stopped answering pings; reconnecting');
        websocket.terminate();
      }, PING_TIMEOUT_MS);
      websocket.ping();
    }, PING_PERIOD_MS);
  }

  clearPing() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  reply(websocket, frame) {
    let request;
    try {
      request = protocol.decode(frame);
    } catch (error) {
      const why = error instanceof ProtocolError ? error.message : String(error);
      this.logger.warn(`baton-connector: ignored a frame from the conductor: ${why}`);
      return;
    }
    // Nothing here may reject unhandled: that would end the application's process.
    this.answer(request)
      .then((fields) => {
        if (websocket.readyState === WebSocket.OPEN) {
          websocket.send(protocol.encode(request, fields));
        }
      })
      .catch((error) => {
        this.logger.warn(`baton-connector: could not answer ${request.type}: ${error}`);
      });
  }
}

module.exports = { ConductorSocket, RECONNECT_DELAY_MS };
