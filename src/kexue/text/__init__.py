"""What the Chinese-text tasks share: tokenisation (jieba words or characters, with a cache),
vocabularies, and padding/bucketing of variable-length sequences."""
