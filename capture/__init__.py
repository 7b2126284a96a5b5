"""Status capture: how workflow statuses get from executors into Baton's store.

The worker half lives here: ``cursor`` (pure: when and what to poll, and how the cursor moves),
``agent`` (the Faust shell that runs one poller per app), ``workflow_table`` (pure: which statuses
are news) and ``workflow_agent`` (the Faust shell that forwards news to the store). The gateway
half, which turns a ``PollWorkflows`` command into DBOS ``list_workflows`` queries, is in the
gateway (``gateway.polling``): DBOS frames live in the gateway alone.
"""
