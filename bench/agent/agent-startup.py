#!/usr/bin/env python3
"""Start-up time, idle RSS and size of a guest agent binary (ours or the stock qemu-ga).

Usage: agent-startup.py AGENT_BINARY [RUNS] [IDLE_SECONDS]   (a .dll runs through `dotnet`: quick runs only)

For each run: start the agent in unix-listen mode with a fresh state dir, connect as soon
as the socket accepts, send guest-ping and time until the reply arrives (process start ->
first reply). After the last run, keep one agent idle for IDLE_SECONDS (2) and read VmRSS from
/proc/PID/status. Agents are killed by pid. Prints one JSON line.
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

def start_agent(binary, prefix="qga-bench-"):
    """Starts the agent in unix-listen mode with a fresh state dir and connects as soon as the
    socket accepts (at most 20 s). Returns (process, socket, state dir, start time); on failure
    the agent is killed and its dir removed."""
    d = tempfile.mkdtemp(prefix=prefix)
    sock = os.path.join(d, "sock")
    t0 = time.perf_counter()
    command = ["dotnet", binary] if binary.endswith(".dll") else [binary]
    p = subprocess.Popen(command + ["-m", "unix-listen", "-p", sock, "-t", d],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = t0 + 20
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(sock)
                break
            except OSError:
                s.close()
                if time.perf_counter() > deadline:
                    raise TimeoutError("agent did not listen")
                time.sleep(0.0005)
        return p, s, d, t0
    except Exception:
        p.kill(); p.wait(); shutil.rmtree(d, ignore_errors=True)
        raise

def one_run(binary):
    p, s, d, t0 = start_agent(binary)
    try:
        s.settimeout(10)
        s.sendall(b'{"execute":"guest-ping"}')
        buf = b""
        while not buf.endswith(b"\n") and len(buf) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                raise IOError("closed")
            buf += chunk
        elapsed = time.perf_counter() - t0
        return elapsed, p, s, d
    except Exception:
        s.close(); p.kill(); p.wait(); shutil.rmtree(d, ignore_errors=True)
        raise

def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    idle = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    times = []
    for i in range(runs):
        elapsed, p, s, d = one_run(binary)
        times.append(elapsed * 1000)
        if i == runs - 1:
            time.sleep(idle)
            with open(f"/proc/{p.pid}/status") as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
        s.close(); p.kill(); p.wait(); shutil.rmtree(d, ignore_errors=True)
    print(json.dumps({
        "binary": binary,
        "size_bytes": os.path.getsize(binary),
        "runs": runs,
        "first_reply_ms_median": round(statistics.median(times), 1),
        "first_reply_ms_min": round(min(times), 1),
        "first_reply_ms_max": round(max(times), 1),
        "idle_rss_kib": rss,
    }))

if __name__ == "__main__":
    main()
