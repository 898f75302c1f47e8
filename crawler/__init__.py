"""A fast, dependable queue-driven web crawler."""

__version__ = "0.1.0"
