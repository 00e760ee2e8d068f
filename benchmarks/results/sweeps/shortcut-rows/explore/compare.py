import json, os, sys, statistics as st
d = sys.argv[1]; base_arm = sys.argv[2]; arms = sys.argv[3:]
rows = sorted({f.rsplit('-', 1)[0] for f in os.listdir(d) if f.endswith(f'-{base_arm}.json')})
def get(row, arm):
    f = f'{d}/{row}-{arm}.json'
    if not os.path.exists(f): return None
    r = json.load(open(f)); return 100*r['before']['acc'], 100*r['after']['acc'], 100*(r['after']['asr'] or 0)
print(f"{'row':30} {'before':>6} {base_arm:>14} " + " ".join(f"{a:>14}" for a in arms))
for row in rows:
    b = get(row, base_arm); cells = [get(row, a) for a in arms]
    print(f"{row:30} {b[0]:6.1f} {b[1]:6.1f}/{b[2]:6.1f} " + " ".join(f"{c[1]:6.1f}/{c[2]:6.1f}" if c else f"{'-':>14}" for c in cells))
for a in arms:
    common = [r for r in rows if get(r, a)]
    if not common: continue
    B = [get(r, base_arm) for r in common]; A = [get(r, a) for r in common]
    within = lambda x: x[2] <= 5 and x[0] - x[1] <= 2
    print(f"{a}: {len(common)} rows; mean ASR {st.mean(x[2] for x in B):.2f} -> {st.mean(x[2] for x in A):.2f}; "
          f"mean ACC drop {st.mean(x[0]-x[1] for x in B):.2f} -> {st.mean(x[0]-x[1] for x in A):.2f}; "
          f"within bar {sum(map(within, B))} -> {sum(map(within, A))}; ASR lower on {sum(y[2] < x[2] for x, y in zip(B, A))}, higher on {sum(y[2] > x[2] for x, y in zip(B, A))}")
