"""preflight: get media ready for AI motion-transfer video generation."""
