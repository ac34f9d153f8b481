"""What a message says and the signed links it carries: template rendering, feedback
and unsubscribe links. Used by the worker's activities, which send messages, and by
the client side, which dry-runs them at the edge and verifies the links people open."""
