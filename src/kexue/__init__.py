"""kexue: reproducible deep-learning experiments from Scientific Spaces (kexue.fm)."""
