"""Reports and plots from recordings. Reads recordings only; never runs a scenario itself."""
