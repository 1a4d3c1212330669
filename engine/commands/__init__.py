"""The subcommands that are not a run, each its own module above the stages: they use the
loaders, the registry and the connections, and nothing below imports them.
"""
