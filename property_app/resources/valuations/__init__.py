"""The ``/property/valuations`` resource."""
