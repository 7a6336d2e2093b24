"""Parameters of the cloze task (section `cloze:` of params.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from kexue.params import SkipGramParams, Strict


Source = Literal["fairy_tales", "news", "novels"]


class GenerateParams(Strict):
    """How training questions are made from raw text, the way the official training set was made:
    a sentence of a document gets one of its words blanked (`XXXXX`), a word that also occurs
    elsewhere in the document; the blanked sentence stays in place, as in the official files."""

    sources: list[Source] = ["fairy_tales", "news", "novels"]
    max_chars: int = Field(0, ge=0)  # per source text: read only its first N characters (0 = all)
    doc_max_tokens: int = Field(480, ge=20)  # news and novels are cut into documents of at most this many words
    doc_min_sentences: int = Field(4, ge=2)  # shorter documents are not used
    questions_per_doc: int = Field(20, ge=1)  # at most this many sentences of a document are blanked
    # per source: questions made from one blanked sentence, each blanking a different word (a source not
    # named: 1); more than 1 makes more questions of a source whose eligible sentences are used up
    questions_per_sentence: dict[Source, Annotated[int, Field(ge=1)]] = {
        "fairy_tales": 1, "news": 1, "novels": 1
    }
    # answers: words whose part of speech (jieba's dictionary tag) is one of these; the official answers
    # are mostly nouns (n, nr, ns, nz)
    answer_pos: list[str] = ["n", "nr", "ns", "nz", "nrt", "nt"]
    # questions whose document keeps the sentence whole (answer in place), like the user questions' documents
    unblanked_fraction: float = Field(0.25, ge=0, le=1)
    min_other_occurrences: int = Field(1, ge=1)  # the answer occurs at least this often outside its sentence
    # a position is blanked with probability proportional to (its word's occurrences outside its sentence)
    # ** occurrence_power, over the whole document (generate.py; passages.py per epoch); 0 = a sentence, then
    # one of its positions, uniformly
    occurrence_power: float = Field(0.0, ge=0)
    val_fraction: float = Field(0.03, gt=0, lt=0.5)  # of the documents: their questions are the validation split
    overlap_min_chars: int = Field(10, ge=1)  # training sentences this long are searched for in the evaluation docs


class DataParams(Strict):
    generate: GenerateParams = GenerateParams()
    # vocabulary: words that occur in at least this many training documents; the rest (a story's own
    # names, rare words) are out of vocabulary, and read as one of the document's placeholders
    min_docs: int = Field(2, ge=1)
    # out-of-vocabulary words of a question get <unk0>, <unk1>, ... in first-seen order, the same one
    # wherever the word recurs in the document and query (more than this many: the shared <unk>);
    # 0 = every out-of-vocabulary word is the one shared <unk>
    placeholders: int = Field(64, ge=0)
    # generated questions only: each distinct word of a question whose part of speech may be an answer
    # (generate.answer_pos) is read as out of vocabulary with this probability (seeded), so the reader
    # meets placeholder answers about as often as the official questions have them
    anonymize: float = Field(0.3, ge=0, le=1)
    max_vocab: int = Field(0, ge=0)  # 0 = no cap
    # user questions have no blank: the first of these question words in the query becomes the blank
    question_words: list[str] = ["什么", "谁", "哪儿", "哪里", "哪", "多少", "几", "怎样", "怎么", "为什么"]


class ModelParams(Strict):
    embed_dim: int = Field(100, ge=1)  # = the word2vec vectors' size while pretrained is word2vec
    hidden: int = Field(128, ge=1)  # LSTM units per direction, for the document and the query
    dropout: float = Field(0.2, ge=0, lt=1)
    # initial word vectors: random, or the word2vec task's vectors (data/word2vec/vectors.txt) where a word has one
    # documents: skip-gram vectors learnt (cloze.vectors) on the training documents (fairy tales, news and
    # novels: the fairy tales' words too, which the word2vec task's text lacks) just before training
    pretrained: Literal["none", "word2vec", "documents"] = "word2vec"
    # reading layers: 1 = the attention-sum reader; K > 1 puts K - 1 gated-attention layers before it
    # (Dhingra et al. 2017): each reads the document with its own BiLSTMs and multiplies every document
    # state by the query states it attends to, so later layers read the document in the query's light
    hops: int = Field(2, ge=1)
    # question: each training step reads a generated question's document (train.npz); passage: each
    # step reads a training document with train.blanks blanks at once, drawn anew every epoch
    # (passages.py; one hop only: the document pass is shared by its blanks)
    reader: Literal["question", "passage"] = "question"

    @model_validator(mode="after")
    def _passage_has_one_hop(self) -> "ModelParams":
        if self.reader == "passage" and self.hops != 1:
            raise ValueError(f"reader: passage reads with one hop; set hops: 1 (got hops: {self.hops})")
        return self


class TrainParams(Strict):
    epochs: int = Field(2, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0)  # peak of a one-cycle schedule
    weight_decay: float = Field(0.0, ge=0)
    train_limit: int = Field(0, ge=0)  # use only the first N training questions (passage reader: documents; 0 = all)
    # reader: passage only: blanks per document and step (different words in different sentences);
    # batch_size then counts documents
    blanks: int = Field(8, ge=1)


class EvaluateParams(Strict):
    batch_size: int = Field(64, ge=1)
    wrong_examples: int = Field(20, ge=1)  # wrong answers listed with their context


class ClozeParams(Strict):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    vectors: SkipGramParams = SkipGramParams()  # read while model.pretrained learns vectors here
    evaluate: EvaluateParams = EvaluateParams()
