import json, sys
def load(f):
    d = json.load(open(f))
    runs = [(r['attack'], a['seed'], 100*r['backdoored']['acc'] - 100*a['acc'], 100*a['acc'], 100*(a['asr'] or 0)) for r in d['rows'] for a in r['auditor']]
    c = d['control']; ctrl = [100*c['backdoored']['acc'] - 100*a['acc'] for a in c['auditor']]
    return runs, ctrl
D, Dc = load(sys.argv[1]); L, Lc = load(sys.argv[2])
mean = lambda xs: sum(xs)/len(xs)
print(f"{len(D)} / {len(L)} backdoored runs")
for name, R, C in (("defaults", D, Dc), ("grating_rows 24", L, Lc)):
    print(f"{name}: mean ACC {mean([r[3] for r in R]):.3f}, mean drop {mean([r[2] for r in R]):.3f}, mean ASR {mean([r[4] for r in R]):.3f}, "
          f"worst drop {max(r[2] for r in R):.1f}, worst ASR {max(r[4] for r in R):.1f}, bar misses {sum(r[2] > 2 or r[4] > 5 for r in R)}, control mean drop {mean(C):.3f} (worst {max(C):.1f})")
    for att in sorted({r[0] for r in R}):
        print("   ", att, " ".join(f"{r[3]:.1f}/{r[4]:.1f}" for r in R if r[0] == att))
a = mean([r[3] for r in D]) - mean([r[3] for r in L]); b = mean([r[4] for r in L]) - mean([r[4] for r in D]); c = mean(Lc) - mean(Dc)
print(f"(a) mean ACC lower by {a:.3f} (<= 0.5): {'passes' if a <= 0.5 else 'FAILS'}")
print(f"(b) mean ASR higher by {b:.3f} (<= 1): {'passes' if b <= 1 else 'FAILS'}")
print(f"(c) control mean drop more by {c:.3f} (<= 0.5): {'passes' if c <= 0.5 else 'FAILS'}")
