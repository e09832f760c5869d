"""The whole system's own processes, outside any one service.

The gateway (one origin for the five APIs), the embedded mode (everything in one process), the
mail catcher, the bureau simulator and the command line (``python -m loanflow.cli``). They may
import any service; no service and nothing in ``common`` imports them.
"""
