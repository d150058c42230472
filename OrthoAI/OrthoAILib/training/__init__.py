"""Training commands for the models the project ships (trained here, from generated data)."""
