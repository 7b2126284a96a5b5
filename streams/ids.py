"""Identifiers in Baton's records: one ``NewType`` each, defined here once for every role."""

from __future__ import annotations

from typing import NewType

AppName = NewType("AppName", str)
ExecutorId = NewType("ExecutorId", str)
GatewayId = NewType("GatewayId", str)
ConnId = NewType("ConnId", str)
CommandId = NewType("CommandId", str)
WorkflowId = NewType("WorkflowId", str)
RequestId = NewType("RequestId", str)
