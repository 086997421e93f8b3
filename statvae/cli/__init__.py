"""Command-line interface (``statvae``)."""
