#!/usr/bin/env python3
"""Writes src/QemuGuest.Agent/startup.order: the managed methods a NativeAOT agent runs from its
start through its first guest-ping reply and 3 s of idle, in the order they first run.

Usage: agent-order.py AGENT_BINARY AGENT_DBG OUT_FILE
  dotnet publish src/QemuGuest.Agent -c Release -r linux-x64 -p:IlcOrderFile= -o /tmp/x
  python3 bench/agent/agent-order.py /tmp/x/qemuguest-agent /tmp/x/qemuguest-agent.dbg src/QemuGuest.Agent/startup.order

Why (issue 19, stage 7): ILC lays methods out by assembly and type, so the ~1,350 methods of a
start-up lie on almost every 64 KiB fault-around window of the 1.8 MiB of managed code and all
of it became resident in every agent. The csproj passes this file to ILC (IlcOrderFile, method
layout "explicit"), which puts these methods first. Names that no longer exist are ignored by
ILC and new start-up methods just keep their default place: regenerate after larger changes.

How: gdb with a temporary breakpoint on every managed method (symbols from the .dbg), the agent
in unix-listen mode, one guest-ping, 3 s idle, SIGTERM. Slow (minutes: one stop per method hit
once). Folded bodies (one address, several names) are written with all their names. Paths that
vary between runs (an accept completing at once or later, the thread pool's hill climbing) may be
missed: the committed list has 7 such methods appended, found as the faults left outside the
ordered range by `perf record -e page-faults -c 1 -d` of a start of the ordered build.
"""
import collections, os, re, shutil, signal, socket, subprocess, sys, tempfile, time

BASE = 0x555555554000  # gdb runs the PIE without ASLR


def managed_methods(binary, dbg):
    lo = size = None
    for l in subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        m = re.search(r"\]\s+__managedcode\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", l)
        if m:
            lo, size = int(m.group(1), 16), int(m.group(2), 16)
    if lo is None:
        raise SystemExit(f"{binary}: no __managedcode section (not a NativeAOT binary?)")
    names = collections.defaultdict(list)
    for l in subprocess.run(["nm", "--defined-only", dbg], capture_output=True, text=True, check=True).stdout.splitlines():
        a, t, n = l.split(" ", 2)
        a = int(a, 16)
        if t in "tT" and lo <= a < lo + size:
            names[a].append(n)
    return names


def main():
    binary, dbg, out = sys.argv[1:4]
    names = managed_methods(binary, dbg)
    d = tempfile.mkdtemp(prefix="qga-order-")
    sock, script, hits_file = (os.path.join(d, x) for x in ("sock", "cmds.gdb", "hits"))
    with open(script, "w") as f:
        f.write("set pagination off\nset confirm off\n")
        f.write("handle SIGUSR1 SIGUSR2 SIGPIPE SIGCHLD SIG34 SIG35 SIG36 nostop noprint pass\nhandle SIGTERM nostop print pass\n")
        f.write("starti\n")
        for a in sorted(names):
            f.write(f"tbreak *{BASE + a:#x}\n")
        f.write("python\nimport gdb\nhits = []\n"
                "def on_stop(ev):\n    if isinstance(ev, gdb.BreakpointEvent):\n        hits.append(int(gdb.parse_and_eval('$pc')))\n"
                "gdb.events.stop.connect(on_stop)\n"
                "while gdb.selected_inferior().pid:\n    try:\n        gdb.execute('continue', to_string=True)\n    except gdb.error:\n        break\n"
                f"open('{hits_file}', 'w').write('\\n'.join(hex(x - {BASE}) for x in hits))\nend\n")
    gdb = subprocess.Popen(["gdb", "-batch", "-nx", "-x", script, "--args", binary, "-m", "unix-listen", "-p", sock, "-t", d],
                           stdin=subprocess.DEVNULL, stdout=open(os.path.join(d, "gdb.log"), "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 900
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(sock)
                break
            except OSError:
                s.close()
                if time.time() > deadline or gdb.poll() is not None:
                    raise SystemExit(f"the agent did not listen; see {d}/gdb.log")
                time.sleep(0.1)
        s.settimeout(600)
        s.sendall(b'{"execute":"guest-ping"}')
        reply = s.recv(4096)
        if not reply.startswith(b'{"return"'):
            raise SystemExit(f"unexpected reply {reply!r}")
        time.sleep(3)
        agent = int(subprocess.run(["pgrep", "-P", str(gdb.pid)], capture_output=True, text=True).stdout.split()[0])
        os.kill(agent, signal.SIGTERM)
        gdb.wait(timeout=600)
    finally:
        if gdb.poll() is None:
            gdb.kill()
    lines, seen = [], set()
    for a in (int(x, 16) for x in open(hits_file).read().split()):
        if a in names and a not in seen:
            seen.add(a)
            lines += sorted(names[a])
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    shutil.rmtree(d, ignore_errors=True)
    print(f"{len(seen)} of {len(names)} managed methods run at start-up -> {out}")


if __name__ == "__main__":
    main()
