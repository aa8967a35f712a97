# Helpers the install tests share (sourced by tarball.sh and deb.sh, which
# define say and fail first).

# A free TCP port on 127.0.0.1, below the kernel's ephemeral range (as
# tests/proto/maildtest.py picks them): a port bind(0) hands out there can
# be taken as the source port of any outgoing connection before the daemon
# binds it. Called in $(...), it keeps no memory: callers make sure two
# ports they take differ.
free_port() {
	python3 - <<'PY' || fail "no free port"
import random, socket, sys
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        hi = min(32767, int(f.read().split()[0]) - 1)
except (OSError, ValueError, IndexError):
    hi = 32767
start = random.randint(20000, hi)
for i in range(hi - 20000 + 1):
    port = 20000 + (start - 20000 + i) % (hi - 20000 + 1)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
sys.exit(1)
PY
}

# Waits (at most 20 s) until something accepts on 127.0.0.1:$1.
wait_port() {
	python3 - "$1" <<'PY' || fail "nothing listens on 127.0.0.1:$1"
import socket, sys, time
end = time.time() + 20
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}
