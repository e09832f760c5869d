"""property_app's domain: valuation by reference price per m², free of HTTP and SQL."""
