"""Where the platform keeps things: the database (engine, tables, migrations) and the blob store."""
