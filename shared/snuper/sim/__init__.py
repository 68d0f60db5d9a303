"""The simulators: every provider's simulated site on one local port (design.md §5)."""
