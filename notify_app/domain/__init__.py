"""notify_app's pure domain: what documents and e-mails say, computed from published events (no I/O)."""
