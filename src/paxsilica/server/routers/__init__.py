"""The API's routers; each takes its principal from :func:`paxsilica.server.auth.require`."""
