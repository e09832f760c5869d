"""The ``/notify/applications/<id>/notifications`` resource."""
