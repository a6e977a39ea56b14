"""Thin Dagster wiring: assets, checks, resources, schedule and sensor."""
