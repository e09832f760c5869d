"""The ``/decision`` resources: decisions and the policy."""
