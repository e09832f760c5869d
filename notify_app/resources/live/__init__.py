"""Server-Sent Events and the staff list of applications."""
