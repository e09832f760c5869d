"""notify_app's pure domain: documents and e-mails built from published events, no I/O."""
