# Full default captcha run (params.yaml as carried: input 160x60 = as drawn, width 0.5, per-position head,
# 20 epochs) on one GPU: draw, preprocess, train (time-guarded), evaluate; models + logs come back.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
tar -C /tmp/site -xzf .devdata/antlr4.tgz && tar -C /tmp/site -xzf .devdata/jieba.tgz || exit 1
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:/tmp/site
R=/tmp/res; mkdir -p $R; SECONDS=0
grep -n "input_width: 160" params.yaml || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $R/gpu.txt
python3 -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__)" | tee -a $R/gpu.txt
python3 -m kexue captcha download --raw data/captcha/raw --samples /tmp/s.png 2>&1 | tr '\r' '\n' | grep -v "drawing captchas" | tail -2
echo "drawn at $SECONDS s"
python3 -m kexue captcha preprocess --raw data/captcha/raw --prepared data/captcha/prepared 2>&1 | tail -1
sha256sum data/captcha/raw/*.npz data/captcha/prepared/* | tee $R/data_sha256.txt
echo "data ready at $SECONDS s"
timeout 440 python3 -m kexue captcha train --prepared data/captcha/prepared --models models/captcha --live metrics/captcha/live > /tmp/train.log 2>&1
echo "train rc $? at $SECONDS s" | tee $R/train_rc.txt
tr '\r' '\n' < /tmp/train.log | grep -vE "Warning|warn|Tip|^\s*$" | tail -4 | cut -c1-300 > $R/train_log_tail.txt
cat models/captcha/summary.json; cat metrics/captcha/live/plots/metrics/val/string_acc.tsv
timeout 60 python3 -m kexue captcha evaluate --prepared data/captcha/prepared --models models/captcha --live metrics/captcha/live --metrics $R/gpu_eval_metrics.json --plots-dir $R/gpu_eval > /tmp/eval.log 2>&1; echo "gpu eval rc $? at $SECONDS s"
cat $R/gpu_eval_metrics.json 2>/dev/null | head -12
sha256sum models/captcha/* | tee $R/models_sha256.txt
cp -r metrics/captcha/live $R/live; cp /tmp/train.log $R/
tar -C /tmp -cf $OUT/res.tar res; tar -cf /tmp/models.tar models/captcha; split -b 15M -d /tmp/models.tar $OUT/models.tar.part; ls -la $OUT
