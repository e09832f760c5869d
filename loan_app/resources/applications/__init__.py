"""The ``/loan/applications`` resource."""
