# Full default fashion training (params.yaml as carried: width 2.0) on the GPU; best.ckpt + logs come back,
# last.ckpt waits in /tmp/keep for a second call (8 files of <=16 MiB, 64 MiB in all can come back).
if [ ! -f /tmp/site/.ok5 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  tar -C /tmp/site -xzf .devdata/antlr4.tgz && tar -C /tmp/site -xzf .devdata/jieba.tgz || exit 1
  touch /tmp/site/.ok5
fi
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:/tmp/site KEXUE_DATA_MIRROR=$PWD/.devdata
R=/tmp/res; mkdir -p $R /tmp/keep
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $R/gpu.txt
python3 -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__)" | tee -a $R/gpu.txt
grep -n "width: 2.0" params.yaml || exit 1
SECONDS=0
python3 -m kexue fashion download --raw data/fashion/raw 2>&1 | tail -1
python3 -m kexue fashion preprocess --raw data/fashion/raw --prepared data/fashion/prepared 2>&1 | tail -1
sha256sum data/fashion/prepared/*.npz | tee $R/prepared_sha256.txt
echo "data ready at $SECONDS s"
timeout 470 python3 -m kexue fashion train --prepared data/fashion/prepared --models models/fashion --live metrics/fashion/live > /tmp/train.log 2>&1
echo "train rc $? at $SECONDS s" | tee $R/train_rc.txt
tr '\r' '\n' < /tmp/train.log | grep -vE "Warning|warn|Tip|^\s*$" | tail -4 | cut -c1-300 > $R/train_log_tail.txt
cat models/fashion/summary.json; cat metrics/fashion/live/plots/metrics/val/acc.tsv | tail -6
sha256sum models/fashion/* | tee $R/models_sha256.txt
cp models/fashion/summary.json models/fashion/fingerprint.json $R/; cp -r metrics/fashion/live $R/live
cp models/fashion/last.ckpt /tmp/keep/ && (cd /tmp/keep && split -b 15M -d last.ckpt last.ckpt.part && rm last.ckpt)
split -b 15M -d models/fashion/best.ckpt $OUT/best.ckpt.part
timeout 70 python3 -m kexue fashion evaluate --prepared data/fashion/prepared --models models/fashion --live metrics/fashion/live --metrics $R/gpu_eval_metrics.json --plots-dir /tmp/eval > /tmp/eval.log 2>&1; echo "gpu eval rc $? at $SECONDS s"
cat $R/gpu_eval_metrics.json 2>/dev/null | head -8
tar -C /tmp -cf $OUT/res.tar res; ls -la $OUT /tmp/keep
