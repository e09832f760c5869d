"""``python -m common.cli …`` kept working: the command line now lives in :mod:`loanflow.cli`.

Earlier READMEs and the issue texts name this module; it runs the real one as ``__main__`` and
imports nothing at import time, so ``common`` still depends on no process and no service.
"""

if __name__ == "__main__":
    import runpy

    runpy.run_module("loanflow.cli", run_name="__main__", alter_sys=True)
