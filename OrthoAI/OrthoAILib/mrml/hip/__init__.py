"""Hip results in the scene: landmarks, live lines and measure tables (bridge)."""
