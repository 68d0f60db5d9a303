"""PlanMonitorsFunction (a zip Lambda)."""
