"""What the server does, once for every caller: the REST API's handlers, the executor, the scheduler
and the web UI call these functions (blocking: callers on the event loop run them with
digpy.server.keys.off_loop). Each takes the store and what else it needs, and returns REST shapes."""
