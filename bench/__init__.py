"""`make bench`: the performance figures of issue 7, each measured beside its reference."""
