"""The kernel: what every process needs before it touches a database or a broker.

Settings read once from the environment, the clock, structured logs, masking of personal data,
JSON-simple values and the Prometheus helpers. Nothing here imports any other part of loanflow,
so any module anywhere may import it.
"""
