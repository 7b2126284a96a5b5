"""Recovery: the executors' liveness and the recovery state machine (pure folds), the policy that
decides (pure), and the Faust agent that runs them."""
