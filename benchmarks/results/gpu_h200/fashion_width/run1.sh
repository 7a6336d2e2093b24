# Fashion-MNIST default params at MobileNet widths 1.0 / 1.5 / 2.0 (seed 42), three trainings side by side
# on one GPU, then evaluate each; the width with the best validation accuracy (flip+shift views) is packed.
if [ ! -f /tmp/site/.ok5 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  tar -C /tmp/site -xzf .devdata/antlr4.tgz && tar -C /tmp/site -xzf .devdata/jieba.tgz || exit 1
  touch /tmp/site/.ok5
fi
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:/tmp/site KEXUE_DATA_MIRROR=$PWD/.devdata
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nproc; python3 -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__)" || exit 1
F=/tmp/f; R=$OUT/res; mkdir -p $R
SECONDS=0
python3 -m kexue fashion download --raw $F/raw 2>&1 | tail -1
python3 -m kexue fashion preprocess --raw $F/raw --prepared $F/prepared 2>&1 | tail -1
sha256sum $F/prepared/*.npz | tee $R/prepared_sha256.txt
for w in 1.0 1.5 2.0; do
  python3 .devrun/override.py params.yaml fashion.model.width=$w trainer.progress_bar=false > /tmp/p_$w.yaml
  ( timeout 450 python3 -m kexue fashion train --params /tmp/p_$w.yaml --prepared $F/prepared --models $F/w$w/models --live $F/w$w/live > $F/train_$w.log 2>&1; echo "w$w train rc $? at $SECONDS s" ) &
done
while [ $(jobs -r | wc -l) -gt 0 ]; do sleep 30; echo "$SECONDS s: $(for w in 1.0 1.5 2.0; do echo -n "w$w $(($(wc -l < $F/w$w/live/plots/metrics/val/acc.tsv 2>/dev/null || echo 1)-1)) ep; "; done)"; done
wait
for w in 1.0 1.5 2.0; do
  cp $F/w$w/live/plots/metrics/val/acc.tsv $R/val_acc_w$w.tsv 2>/dev/null; cp $F/w$w/models/summary.json $R/summary_w$w.json 2>/dev/null
  grep -vE "Warning|warn|Tip|^\s*$" $F/train_$w.log | tail -3 > $R/train_log_tail_w$w.txt
  ( python3 -m kexue fashion evaluate --params /tmp/p_$w.yaml --prepared $F/prepared --models $F/w$w/models --live $F/w$w/live --metrics $R/metrics_w$w.json --plots-dir $F/w$w/eval > $F/eval_$w.log 2>&1; echo "w$w eval rc $? at $SECONDS s"; tail -2 $F/eval_$w.log ) &
done
wait
python3 - <<'PY'
import json, os, glob
R = os.environ["OUT"] + "/res"
best = None
for w in ("1.0", "1.5", "2.0"):
    try:
        m = json.load(open(f"{R}/metrics_w{w}.json"))
    except OSError:
        print("w", w, "no metrics"); continue
    print("w", w, {k: m.get(k) for k in ("val_acc_single_view", "val_acc_flip_tta", "val_acc_flip_shift_tta", "test_acc", "test_acc_single_view", "epochs", "train_wall_time_s", "train_device", "params")})
    if m.get("epochs") == 30 and (best is None or m["val_acc_flip_shift_tta"] > best[1]):
        best = (w, m["val_acc_flip_shift_tta"])
print("chosen by validation:", best)
open("/tmp/chosen", "w").write(best[0] if best else "")
PY
C=$(cat /tmp/chosen)
if [ -n "$C" ] && [ "$C" != "1.0" ]; then
  sha256sum $F/w$C/models/* | tee $R/chosen_sha256.txt
  # files back: 16 MiB each, 64 MiB in all; width 2's best+last are ~78 MB, so last.ckpt waits for a second call
  if [ $(du -cb $F/w$C/models/*.ckpt | tail -1 | cut -f1) -lt 60000000 ]; then X=""; else X="--exclude=last.ckpt"; fi
  tar -C $F/w$C $X -cf /tmp/chosen.tar models live && (cd $OUT && split -b 15M -d /tmp/chosen.tar chosen_w$C.tar.part)
  [ -n "$X" ] && (mkdir -p /tmp/second && cd /tmp/second && split -b 15M -d $F/w$C/models/last.ckpt last.ckpt.part) && echo "last.ckpt kept for a second call"
fi
tar -C $OUT -czf $OUT/results.tgz res && rm -rf $R
ls -la $OUT; echo "done at $SECONDS s"
