"""The recovery agent: pure decisions (policy) and the Faust loop that runs them (agent)."""
