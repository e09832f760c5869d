"""The HTTP layer every service shares: app factory, auth, input guards, OpenAPI, gunicorn hooks.

``http`` builds a service's Flask app; ``blueprint`` is the flask-smorest Blueprint whose views
declare who may call them once (``@blp.staff_only``, ``@blp.applicant_or_staff``); ``context``
gives a view its service's runtime and admitted caller; ``auth`` checks tokens; ``input_guards``
refuses what no view can use; ``openapi`` corrects the generated documents. A new concern of
*every* API (a header, an error shape, a security scheme) goes here; a service's own endpoints
stay in its ``resources/``, and what they read or change in its ``queries.py``/``commands.py``.
"""
