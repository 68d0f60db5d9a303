"""Storage backends behind one protocol (design.md §4)."""

from snuper.sinks.base import Sink, SinkError

__all__ = ["Sink", "SinkError"]
