"""Checks that run outside the project environment, with torch and numpy alone."""
