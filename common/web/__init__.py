"""The HTTP layer every service shares: app factory, errors as JSON, OpenAPI, auth, gunicorn hooks.

A new concern of *every* API (a header, an error shape, a security scheme) goes here; a service's
own endpoints stay in its ``resources/``.
"""
