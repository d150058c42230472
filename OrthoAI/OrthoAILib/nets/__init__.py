"""Network architectures, one family per file, written with torch alone."""
