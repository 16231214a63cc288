"""Point-in-time feature building and the pandera schemas (pure, no I/O)."""
