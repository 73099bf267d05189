"""Web pages of search: full-text search, identity look-ups, repeat-letter actions."""
