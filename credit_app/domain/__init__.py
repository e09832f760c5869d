"""credit_app's domain: scoring and debt-to-income, free of HTTP and SQL."""
