"""python -m tools.plot LOG.json OUT.png: a picture of a simulated session.

Stacked panels over time from the simulator's ``--json`` log: the CP state, the duty
cycle the charger offers, the current the car draws and the energy delivered, with
faults and contactor switching marked; with an OCPP client in the run, a fifth lane
shows the OCPP messages (sent above, received below, calls named). Host only
(matplotlib).
"""
import json
import sys

_CP_LEVEL = {"A": 12, "B": 9, "C": 6, "D": 3, "E": 0, "F": -12}


def _steps(rows, key, conv=float):
    t, v = [], []
    for r in rows:
        if r[key] is None or r[key] == "-":
            continue
        t.append(r["t"])
        v.append(conv(r[key]))
    return t, v


def _ocpp_lane(a, rows):
    # value: "> StartTransaction idTag=..." (sent) / "< RemoteStartTransaction ..." (received);
    # answers ("X.conf") and errors are dots, calls are named
    for r in rows:
        parts = str(r["value"]).split()
        sent = parts[0] == ">"
        what = parts[1] if len(parts) > 1 else "?"
        y = 1 if sent else 0
        call = not what.endswith(".conf") and what != "CALLERROR"
        a.plot([r["t"]], [y], marker="v" if sent else "^", ms=5 if call else 3,
               color=("tab:blue" if sent else "tab:red") if call else "grey")
        if call:
            a.annotate(what, (r["t"], y), xytext=(0, 6 if sent else -6), textcoords="offset points",
                       rotation=90, fontsize=6, va="bottom" if sent else "top", ha="center")
    a.set_ylim(-2.5, 3.5)
    a.set_yticks([0, 1], ["received", "sent"])
    a.set_ylabel("OCPP")


def plot(log, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = log["rows"]
    if not rows:
        raise SystemExit("tools.plot: the log has no rows")
    end = rows[-1]["t"]
    ocpp = [r for r in rows if r["event"] == "ocpp" and r["value"]]
    n = 5 if ocpp else 4
    fig, ax = plt.subplots(n, 1, sharex=True, figsize=(11, 8 + 2 * (n - 4)),
                           gridspec_kw={"height_ratios": [1, 1, 1, 1, 1.4][:n]})
    t, cp = _steps([r for r in rows if r["cp"] in _CP_LEVEL], "cp", lambda s: _CP_LEVEL[s])
    ax[0].step(t + [end], cp + cp[-1:], where="post")
    ax[0].set_yticks(list(_CP_LEVEL.values()), list(_CP_LEVEL))
    ax[0].set_ylabel("CP state")
    t, duty = _steps(rows, "duty", lambda d: 100.0 if d >= 1000 else d / 10)
    ax[1].step(t + [end], duty + duty[-1:], where="post", color="tab:orange")
    ax[1].set_ylabel("duty %  (100 = X1)")
    t, cur = _steps(rows, "current_a")
    ax[2].step(t + [end], cur + cur[-1:], where="post", color="tab:green")
    ax[2].set_ylabel("current A")
    t, e = _steps(rows, "energy_wh")
    ax[3].plot(t, e, color="tab:purple")
    ax[3].set_ylabel("energy Wh")
    ax[n - 1].set_xlabel("time s")
    for r in rows:
        if r["event"] == "fault":
            for a in ax:
                a.axvline(r["t"], color="red", lw=0.8)
            ax[0].annotate(str(r["value"]), (r["t"], 12), color="red", fontsize=8)
        elif r["event"] == "contactor":
            ax[2].axvline(r["t"], color="grey", lw=0.6, ls=":")
    if ocpp:
        _ocpp_lane(ax[4], ocpp)
    fig.suptitle("%s (%s)" % (log.get("scenario", "session"), "passed" if log.get("passed") else "FAILED"))
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    return out


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    with open(argv[0]) as f:
        plot(json.load(f), argv[1])
    print("wrote", argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
