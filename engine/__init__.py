"""play: deploy Docker containers and register their services across a fleet over SSH."""

__version__ = "0.1.0"
