"""Django's PostgreSQL backend, knowing the portal's own column types: ENGINE portal.postgresql."""
