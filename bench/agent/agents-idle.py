#!/usr/bin/env python3
"""Idle memory of many agents at once, several binaries side by side (ours, stock qemu-ga, an old build).

Usage: agents-idle.py COUNT ROUNDS AGENT_BINARY [AGENT_BINARY ...]

Each round takes the binaries in turn (so that a loaded machine is shared out alike): start
COUNT agents of one binary (unix-listen, a fresh state dir each, started and pinged the way
agent-startup.py does), ping each once, wait 3 s, read VmRSS and RssAnon of every one from
/proc/PID/status, kill them by pid. Prints one JSON line per binary and round: the total RSS
of the COUNT agents in MiB (shared file pages count once per process, as `ps` adds them up)
and the median idle RSS of one agent in KiB.
"""
import importlib.util, json, os, shutil, statistics, sys, time

_spec = importlib.util.spec_from_file_location("agent_startup", os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent-startup.py"))
STARTUP = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(STARTUP)


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key))


def one_round(binary, count):
    agents = []
    try:
        for _ in range(count):
            _, p, s, d = STARTUP.one_run(binary)
            agents.append((p, s, d))
        time.sleep(3)
        rss = [status(p.pid, "VmRSS") for p, _, _ in agents]
        anon = [status(p.pid, "RssAnon") for p, _, _ in agents]
    finally:
        for p, s, d in agents:
            s.close(); p.kill(); p.wait(); shutil.rmtree(d, ignore_errors=True)
    return {
        "binary": binary,
        "agents": count,
        "total_rss_mib": round(sum(rss) / 1024, 1),
        "median_rss_kib": int(statistics.median(rss)),
        "median_anon_kib": int(statistics.median(anon)),
        "load": os.getloadavg()[0],
    }


def main():
    count, rounds, binaries = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    for _ in range(rounds):
        for b in binaries:
            print(json.dumps(one_round(b, count)), flush=True)


if __name__ == "__main__":
    main()
