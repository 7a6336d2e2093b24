"""params.yaml with dotted overrides: override.py params.yaml a.b=1 ... > out.yaml"""
import sys, yaml
p = yaml.safe_load(open(sys.argv[1]))
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    *path, last = k.split(".")
    d = p
    for part in path:
        d = d[part]
    d[last] = yaml.safe_load(v)
yaml.safe_dump(p, sys.stdout, sort_keys=False, allow_unicode=True)
