"""The raw archive: every message a monitor received, kept once, and replayed through the same
code (design.md §3). segment: the format; stores: folder or bucket; writer: the live side;
replay: the way back."""
