"""Task actions, one module each; engine/actions/catalog.py is the one table that lists them.

Action modules are imported when first used, so a run pays only for the actions it has.
The types every action shares are in engine/actions/base.py.
"""
