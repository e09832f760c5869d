"""The ``/notify/applications/<id>/documents`` resource."""
