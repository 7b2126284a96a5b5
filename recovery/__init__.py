"""Recovery: an app's state (``state``), the executors' liveness fold (``liveness``), the recovery
state machine (``decisions``), the policy that decides (``policy``), all pure, and the Faust agent
that runs them (``agent``), which also offers its liveness view to the capture poller."""
