# Captcha probe: the post's per-position head at network width 1.0 (default 0.5), 8 epochs (cosine over 8),
# default data (100k train / 5k val / 10k test at 104x40), on one GPU; train time-guarded.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
tar -C /tmp/site -xzf .devdata/antlr4.tgz; tar -C /tmp/site -xzf .devdata/jieba.tgz
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:/tmp/site
R=$OUT; C=/tmp/c; SECONDS=0
python3 .devrun/override.py params.yaml captcha.model.width=1.0 captcha.train.epochs=8 trainer.progress_bar=false > /tmp/p.yaml
python3 -m kexue captcha download --params /tmp/p.yaml --raw $C/raw --samples /tmp/s.png 2>&1 | tr '\r' '\n' | grep -v "drawing captchas" | tail -2
echo "drawn at $SECONDS s"
python3 -m kexue captcha preprocess --params /tmp/p.yaml --raw $C/raw --prepared $C/prepared 2>&1 | tail -1
sha256sum $C/raw/*.npz | tee $R/raw_sha256.txt
timeout 215 python3 -m kexue captcha train --params /tmp/p.yaml --prepared $C/prepared --models $C/models --live $C/live > /tmp/train.log 2>&1
echo "train rc $? at $SECONDS s"
cat $C/models/summary.json; cat $C/live/plots/metrics/val/string_acc.tsv
python3 -m kexue captcha evaluate --params /tmp/p.yaml --prepared $C/prepared --models $C/models --live $C/live --metrics $R/metrics_w1_8ep.json --plots-dir /tmp/ev > /tmp/ev.log 2>&1; echo "eval rc $? at $SECONDS s"
cat $R/metrics_w1_8ep.json; cp $C/live/plots/metrics/val/string_acc.tsv $R/val_string_acc.tsv; cp /tmp/p.yaml $R/params.yaml
grep -vE "Warning|warn|Tip|^\s*$" /tmp/train.log | tail -3 | cut -c1-300
