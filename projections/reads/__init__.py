"""Read queries over the view tables (always the live tables)."""
