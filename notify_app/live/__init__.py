"""Live channels of notify_app: WebSocket and Server-Sent Events fed by the notification log."""
