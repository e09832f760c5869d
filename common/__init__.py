"""What all five loanflow services share: settings, database, outbox, broker, HTTP plumbing.

Nothing in here knows a business rule; see each ``<service>_app/domain`` for those.
"""
