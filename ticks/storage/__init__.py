"""How ticks are stored: a TimescaleDB hypertable when the extension is there, else native
PostgreSQL range partitions by day. ``backend`` decides, ``schema`` creates, ``partitions``
maintains the plain-PostgreSQL layout."""
