"""decision_app's domain: the lending policy, free of HTTP and SQL."""
