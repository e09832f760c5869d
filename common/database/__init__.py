"""The database side every service shares: engines and sessions, the shared tables, migrations, retention.

A new concept goes here when it is about *storing* rows the same way in all five databases (a table
every service has, a session rule, a migration helper). Depends on ``common.kernel`` only, and on
the row mixins of ``common.messaging`` for the shared tables.
"""
