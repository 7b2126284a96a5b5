// The connector's pure parts: decoding conductor frames, reply shapes and the recovery path per
// SDK version. Its behaviour against real DBOS executors is Baton's conformance tier's
// (tests/conformance/test_connector.py, test_clients.py). Run: `npm test` (node:test, no deps
// beyond the package's own).
'use strict';

const assert = require('node:assert/strict');
const { test } = require('node:test');
const protocol = require('../src/protocol');
const recovery = require('../src/recovery');
const { ProtocolError } = require('../src/errors');

test('frames without a JSON object, a type and a request_id are refused', () => {
  for (const frame of ['[]', 'null', '{"type": "cancel"}', '{"type": 1, "request_id": "r"}', 'not json']) {
    assert.throws(() => protocol.decode(frame), ProtocolError, frame);
  }
});

test('unknown fields are ignored and a reply echoes the request, without undefined fields', () => {
  const request = protocol.decode(JSON.stringify({ type: 'cancel', request_id: 'r1', workflow_id: 'w', extra: [1] }));
  assert.deepEqual(request.ids(), ['w']);
  assert.deepEqual(JSON.parse(protocol.encode(request, { success: true, error_message: undefined })), {
    type: 'cancel',
    request_id: 'r1',
    success: true,
  });
});

test('many ids win over one and must be strings', () => {
  const many = protocol.decode('{"type": "resume", "request_id": "r", "workflow_id": "a", "workflow_ids": ["b", "c"]}');
  assert.deepEqual(many.ids(), ['b', 'c']);
  const bad = protocol.decode('{"type": "resume", "request_id": "r", "workflow_ids": ["b", 2]}');
  assert.throws(() => bad.ids(), ProtocolError);
});

test('a field of the wrong type is a protocol error; absent or null takes the default', () => {
  const request = protocol.decode('{"type": "list_steps", "request_id": "r", "limit": true, "offset": null}');
  assert.throws(() => request.field('limit', 'integer'), ProtocolError);
  assert.equal(request.field('offset', 'integer', 7), 7);
  assert.throws(() => protocol.decode('{"type": "x", "request_id": "r", "body": []}').body(), ProtocolError);
  assert.throws(() => protocol.oneOrMany(['a', 1], 'status'), ProtocolError);
  assert.equal(protocol.oneOrMany('a', 'status'), 'a');
});

test('a workflow is sent as the stock client sends it', () => {
  const output = protocol.workflowOutput({
    workflowID: 'w',
    status: 'ERROR',
    workflowName: 'failing',
    workflowClassName: '',
    input: ['it broke <here>'],
    error: new Error('it broke <here>'),
    createdAt: 1700000000000,
    priority: 0,
    attributes: { a: 1 },
  });
  assert.equal(output.WorkflowUUID, 'w');
  assert.equal(output.WorkflowClassName, undefined);
  assert.equal(output.Input, "[ 'it broke <here>' ]");
  assert.equal(JSON.parse(output.Error).message, 'it broke <here>');
  assert.equal(output.CreatedAt, '1700000000000');
  assert.equal(output.Priority, '0');
  assert.equal(output.WasForkedFrom, false);
  assert.equal(output.Attributes, '{"a":1}');
});

test('recovery takes the internal call only where the table says it was tested', () => {
  assert.equal(recovery.minorOf('5.3.0'), '5.3');
  assert.equal(recovery.minorOf('v5'), null);
  assert.equal(recovery.choose('5.3.0', true), recovery.Strategy.PRIVATE_RECOVER);
  assert.equal(recovery.choose('5.3.0', false), recovery.Strategy.PUBLIC_RESUME);
  assert.equal(recovery.choose('5.4.0', true), recovery.Strategy.PUBLIC_RESUME);
  assert.equal(recovery.choose('not a version', true), recovery.Strategy.PUBLIC_RESUME);
});
