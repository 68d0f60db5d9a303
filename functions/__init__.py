"""The cloud entry points (design.md §2): thin adapters over the snuper library."""
