"""Reads for the curator pages, one module per area. Views call these and hold no logic;
nothing here writes to the database."""
