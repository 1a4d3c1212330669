"""The benchmark of `play` against ansible-playbook, pyinfra and two SSH floors on the lab.

`python -m bench [--quick] [--runs N] [--scenario NAME]`; see bench/RESULTS.md.
"""
