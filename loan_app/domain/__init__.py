"""loan_app's domain: the application aggregate and its state machine, free of Flask and SQL."""
