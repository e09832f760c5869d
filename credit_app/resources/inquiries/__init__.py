"""The ``/credit/inquiries`` resource."""
