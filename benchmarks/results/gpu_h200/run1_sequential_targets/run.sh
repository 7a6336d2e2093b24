# word2vec's Triton kernel on the GPU: correctness against the numpy reference, then the full corpus
# at several `parallel` settings against gensim (16 workers on the machine's 16 cores), all in one run.
if [ ! -f /tmp/site/.ok4 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl .whl_gensim/*.whl || exit 1
  tar -C /tmp/site -xzf .devw2v/antlr4.tgz && tar -C /tmp/site -xzf .devw2v/jieba.tgz || exit 1
  mkdir -p /usr/share/fonts/truetype/wqy && cp .devw2v/wqy-microhei.ttc /usr/share/fonts/truetype/wqy/ || exit 1
  touch /tmp/site/.ok4
fi
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:/tmp/site
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, lightning, triton, gensim; print('torch', torch.__version__, 'lightning', lightning.__version__, 'triton', triton.__version__, 'gensim', gensim.__version__)" || exit 1
SECONDS=0; python3 -m pytest -q -p no:cacheprovider tests/test_word2vec_hogwild.py 2>&1 | tail -3; echo "kernel tests $SECONDS s"
P=.devw2v/word2vec/prepared
run() {  # name, gensim dir to compare with ("" = train gensim here), overrides...
  name=$1; ref=$2; shift 2; d=/tmp/w_$name
  python3 .devrun/override.py params.yaml word2vec.train.threads=16 trainer.progress_bar=false "$@" > /tmp/p_$name.yaml
  SECONDS=0; python3 -m kexue word2vec train --params /tmp/p_$name.yaml --prepared $P --models $d/models --live $d/live --vectors $d/vectors.txt --reference $d/gensim 2>&1 | grep -vE "Warning|warn|Tip|^\s*$" | tail -3; echo "$name train wall $SECONDS s"
  [ -n "$ref" ] && rm -rf $d/gensim && ln -s $ref $d/gensim
  python3 -m kexue word2vec evaluate --params /tmp/p_$name.yaml --prepared $P --vectors $d/vectors.txt --reference $d/gensim --models $d/models --metrics $OUT/w2v_$name.json --plots-dir $d/eval 2>&1 | tail -1
  python3 -c "import json;m=json.load(open('$OUT/w2v_$name.json'));m.pop('per_category',None);print(m)"
}
run par1024 "" word2vec.train.kernel=triton word2vec.train.parallel=1024
run par256 /tmp/w_par1024/gensim word2vec.train.kernel=triton word2vec.train.parallel=256 word2vec.train.gensim=false
run par4096 /tmp/w_par1024/gensim word2vec.train.kernel=triton word2vec.train.parallel=4096 word2vec.train.gensim=false
run par64 /tmp/w_par1024/gensim word2vec.train.kernel=triton word2vec.train.parallel=64 word2vec.train.gensim=false
cp /tmp/w_par1024/eval/pca.png $OUT/ 2>/dev/null; cp /tmp/w_par1024/models/summary.json $OUT/summary_par1024.json
