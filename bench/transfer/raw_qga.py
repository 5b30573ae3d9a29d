#!/usr/bin/env python3
"""Minimal raw qemu-ga client for bench/transfer: one request at a time, 0xFF + guest-sync,
guest-file-write/-read of CHUNK bytes until TOTAL bytes (write) or EOF (read).
Usage: raw_qga.py SOCKET w|r CHUNK TOTAL PATH [open]    -> prints bytes and seconds.
The seconds cover the write/read loop and the close; with "open" also the guest-file-open, which
a stock qemu-ga pays for by rewriting its state file (an fsync), as every copy does."""
import socket, json, base64, sys, time, os
sock_path, mode, chunk, total, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
with_open = len(sys.argv) > 6 and sys.argv[6] == 'open'
s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sock_path)  # every wait is bounded
f = s.makefile("rb")
MAX_LINE = 70 << 20  # above the stock agent's largest reply (48 MiB of data as base64)
def call(obj):
    s.sendall(json.dumps(obj).encode())
    while True:
        line = f.readline(MAX_LINE)
        r = json.loads(line)
        if 'return' in r or 'error' in r: return r
s.sendall(b'\xff')
s.sendall(json.dumps({"execute":"guest-sync","arguments":{"id":42}}).encode())
while True:
    line = f.readline(MAX_LINE)
    try:
        if json.loads(line.lstrip(b'\xff')).get('return') == 42: break
    except Exception: pass
block = os.urandom(chunk)
data = base64.b64encode(block).decode()
t_open = time.perf_counter()
if mode == 'w':
    h = call({"execute":"guest-file-open","arguments":{"path":path,"mode":"wb"}})['return']
    t = time.perf_counter(); n = 0
    while n < total:
        # The last block is short when TOTAL is not a multiple of CHUNK: exactly TOTAL bytes go out.
        part = data if total - n >= chunk else base64.b64encode(block[:total - n]).decode()
        r = call({"execute":"guest-file-write","arguments":{"handle":h,"buf-b64":part}})['return']
        n += r['count']
    call({"execute":"guest-file-close","arguments":{"handle":h}})
else:
    h = call({"execute":"guest-file-open","arguments":{"path":path,"mode":"rb"}})['return']
    t = time.perf_counter(); n = 0
    while True:
        r = call({"execute":"guest-file-read","arguments":{"handle":h,"count":chunk}})['return']
        n += r['count']
        if r['count'] == 0 or r['eof']: break
    call({"execute":"guest-file-close","arguments":{"handle":h}})
dt = time.perf_counter() - (t_open if with_open else t)
print(f"{n} {dt:.6f}")
