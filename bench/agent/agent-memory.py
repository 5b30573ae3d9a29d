#!/usr/bin/env python3
"""Memory of a guest agent (ours or the stock qemu-ga) under the requests a client may send.

Usage: agent-memory.py AGENT_BINARY [COPY_MIB] [IDLE_SECONDS]   (a .dll runs through `dotnet`: quick runs only)

Starts the agent in unix-listen mode with a fresh state dir, then, one request at a time:
  1. writes COPY_MIB (64) MiB to /dev/null in 60 KiB guest-file-write blocks, then reads
     COPY_MIB MiB from /dev/zero in 60 KiB guest-file-read blocks (a copy each way), and
     records VmHWM (peak RSS during the copies);
  2. sends four 8 MiB guest-file-write requests and four 8 MiB guest-file-read requests (the
     large blocks a plain client may choose), then one 48 MiB read (the largest count the
     protocol allows), waits IDLE_SECONDS (3) and records VmRSS (what the agent keeps after
     them) and VmHWM.
Every socket wait is bounded (60 s). Agents are killed by pid. Prints one JSON line.
"""
import base64, importlib.util, json, os, shutil, sys, time

# The agent is started and connected to as agent-startup.py does (one copy of that code).
_spec = importlib.util.spec_from_file_location("agent_startup", os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent-startup.py"))
STARTUP = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(STARTUP)

BLOCK = 60 * 1024


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key))


def main():
    binary = sys.argv[1]
    copy_mib = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    idle = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    p, s, d, _ = STARTUP.start_agent(binary, prefix="qga-mem-")
    try:
        s.settimeout(60)
        f = s.makefile("rb")

        def call(obj):
            s.sendall(json.dumps(obj).encode())
            r = json.loads(f.readline(70 << 20))
            if "return" not in r:
                raise RuntimeError(json.dumps(r)[:200])
            return r["return"]

        call({"execute": "guest-ping"})
        base_rss = status(p.pid, "VmRSS")
        w = call({"execute": "guest-file-open", "arguments": {"path": "/dev/null", "mode": "wb"}})
        r = call({"execute": "guest-file-open", "arguments": {"path": "/dev/zero", "mode": "rb"}})
        data = base64.b64encode(os.urandom(BLOCK)).decode()
        t0 = time.perf_counter()
        for _ in range(copy_mib * 1024 * 1024 // BLOCK):
            call({"execute": "guest-file-write", "arguments": {"handle": w, "buf-b64": data}})
        t1 = time.perf_counter()
        for _ in range(copy_mib * 1024 * 1024 // BLOCK):
            call({"execute": "guest-file-read", "arguments": {"handle": r, "count": BLOCK}})
        t2 = time.perf_counter()
        copy_hwm = status(p.pid, "VmHWM")
        big = base64.b64encode(os.urandom(8 << 20)).decode()
        for _ in range(4):
            call({"execute": "guest-file-write", "arguments": {"handle": w, "buf-b64": big}})
        for _ in range(4):
            call({"execute": "guest-file-read", "arguments": {"handle": r, "count": 8 << 20}})
        call({"execute": "guest-file-read", "arguments": {"handle": r, "count": 48 << 20}})
        time.sleep(idle)
        after_rss = status(p.pid, "VmRSS")
        after_hwm = status(p.pid, "VmHWM")
        s.close()
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)
    print(json.dumps({
        "binary": binary,
        "rss_before_kib": base_rss,
        "copy_mib": copy_mib,
        "write_mib_s": round(copy_mib / (t1 - t0), 1),
        "read_mib_s": round(copy_mib / (t2 - t1), 1),
        "copy_peak_rss_kib": copy_hwm,
        "rss_after_large_kib": after_rss,
        "peak_rss_kib": after_hwm,
    }))


if __name__ == "__main__":
    main()
