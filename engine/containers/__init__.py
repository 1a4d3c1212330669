"""The container stage: each host's managed containers read in one facts round, compared with
their desired spec, swapped (swap.py) and registered as services; replicas placed."""
