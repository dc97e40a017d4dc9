"""ip-whitelist screening: the command line and the quarterly screening run."""

__version__ = "0.1.0"
