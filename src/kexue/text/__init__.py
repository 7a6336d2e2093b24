"""What the Chinese-text tasks share: tokenisation (jieba words or characters, with a cache),
vocabularies, padding/bucketing of variable-length sequences, the corpora more than one task reads
(`corpora`), and word vectors in word2vec's text format (`vectors`, `pretrained`)."""
