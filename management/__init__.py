"""The management engine: operators' actions on workflows (retries, idempotency, audit), bulk
jobs, the audit outbox and the channel to live executors. No HTTP here: the console's API and
dashboard, the CLI and future callers (alerts, retention) all drive it."""
