# word2vec's Triton kernel, second run: gathered targets + atomic updates (KEXUE_W2V_GATHER=1, default)
# against the pair-by-pair kernel (=0), `parallel` settings and seeds, gensim with 16 workers.
if [ ! -f /tmp/site/.ok4 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl .whl_gensim/*.whl || exit 1
  tar -C /tmp/site -xzf .devw2v/antlr4.tgz && tar -C /tmp/site -xzf .devw2v/jieba.tgz || exit 1
  mkdir -p /usr/share/fonts/truetype/wqy && cp .devw2v/wqy-microhei.ttc /usr/share/fonts/truetype/wqy/ || exit 1
  touch /tmp/site/.ok4
fi
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:/tmp/site
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
SECONDS=0; python3 -m pytest -q -p no:cacheprovider tests/test_word2vec_hogwild.py 2>&1 | tail -2; echo "kernel tests $SECONDS s"
P=.devw2v/word2vec/prepared
run() {  # name, gather (1|0), gensim dir to compare with ("" = train gensim here), overrides...
  name=$1; export KEXUE_W2V_GATHER=$2; ref=$3; shift 3; d=/tmp/w_$name
  python3 .devrun/override.py params.yaml word2vec.train.threads=16 trainer.progress_bar=false word2vec.train.kernel=triton "$@" > /tmp/p_$name.yaml
  SECONDS=0; python3 -m kexue word2vec train --params /tmp/p_$name.yaml --prepared $P --models $d/models --live $d/live --vectors $d/vectors.txt --reference $d/gensim 2>&1 | grep -E "words/s|Error|error" | tail -3; echo "$name train wall $SECONDS s"
  [ -n "$ref" ] && rm -rf $d/gensim && ln -s $ref $d/gensim
  python3 -m kexue word2vec evaluate --params /tmp/p_$name.yaml --prepared $P --vectors $d/vectors.txt --reference $d/gensim --models $d/models --metrics $OUT/w2v_$name.json --plots-dir $d/eval 2>&1 | grep -E "Error|error" | tail -1
  python3 -c "import json;m=json.load(open('$OUT/w2v_$name.json'));print('$name', {k: m[k] for k in ('analogy_acc','gensim_analogy_acc','alias_hit','gensim_alias_hit','words_per_s','gensim_words_per_s','speed_ratio','train_seconds','neighbour_overlap')})"
}
G=/tmp/w_g128/gensim
run g128 1 "" word2vec.train.parallel=128
run g64 1 $G word2vec.train.parallel=64 word2vec.train.gensim=false
run g256 1 $G word2vec.train.parallel=256 word2vec.train.gensim=false
run s128 0 $G word2vec.train.parallel=128 word2vec.train.gensim=false
run g1024 1 $G word2vec.train.parallel=1024 word2vec.train.gensim=false
run g128seed1 1 "" word2vec.train.parallel=128 seed=1
run g128seed2 1 "" word2vec.train.parallel=128 seed=2
