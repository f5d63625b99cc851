# systemd: packaging/recwatch.service passes `systemd-analyze verify` with the binary
# installed (cmake --install) under a test prefix, and has the directives operations rely
# on; recwatch speaks the notify protocol: READY=1 after loading, WATCHDOG=1 while the loop
# runs, RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 at the end.
. "${HELPERS:?}/ops_lib.sh"
: "${SRC:?}"
unit="$SRC/packaging/recwatch.service"
for d in 'Type=notify' 'WatchdogSec=' 'DynamicUser=yes' 'StateDirectory=recwatch' \
         'EnvironmentFile=' 'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qF "$d" "$unit" || fail "the unit lacks $d"
done

if command -v systemd-analyze >/dev/null; then
  cmake --install "$(dirname "$RECWATCH")" --prefix "$T/prefix" >/dev/null || fail "cmake --install"
  [ -x "$T/prefix/bin/recwatch" ] || fail "cmake --install put no bin/recwatch"
  sed "s|/usr/local/bin/recwatch|$T/prefix/bin/recwatch|" "$unit" >"$T/recwatch.service"
  systemd-analyze verify "$T/recwatch.service" >"$T/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify")"
  [ -s "$T/verify" ] && fail "systemd-analyze verify warns: $(cat "$T/verify")"
  # and it does fail on a unit whose binary is missing
  sed "s|/usr/local/bin/recwatch|$T/nowhere/recwatch|" "$unit" >"$T/bad.service"
  systemd-analyze verify "$T/bad.service" >/dev/null 2>&1 && fail "verify passed a unit with no binary"
elif [ "${CI:-}" = true ]; then
  fail "systemd-analyze missing"
else
  echo "note: systemd-analyze not installed; unit verification skipped"
fi

# the notify protocol, received on a datagram socket of our own
python3 - "$T/notify.sock" >"$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
try:
    while True:
        m = s.recv(4096).decode()
        print(m, flush=True)
        if m == "STOPPING=1":
            break
except socket.timeout:
    pass
PY
EXTRA_PIDS=$!
for i in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
printf 'rec.every(0.2, function() end)\nrec.sleep(60)\n' >"$T/s.lua"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 rw_start run "$T/s.lua"
wait_for 5 grep -qx 'READY=1' "$T/notify.log" || fail "no READY=1"
wait_for 5 grep -qx 'WATCHDOG=1' "$T/notify.log" || fail "no WATCHDOG=1"
kill -HUP "$RW_PID"
wait_for 5 grep -qx 'RELOADING=1' "$T/notify.log" || fail "no RELOADING=1"
ready_after_reload() { sed -n '/^RELOADING=1$/,$p' "$T/notify.log" | grep -qx 'READY=1'; }
wait_for 5 ready_after_reload || fail "no READY=1 after the reload: $(cat "$T/notify.log")"
# every 0.2 s (half of WATCHDOG_USEC), also after the reload
watchdogs_after_reload() { [ "$(sed -n '/^RELOADING=1$/,$p' "$T/notify.log" | grep -c WATCHDOG=1)" -ge 2 ]; }
wait_for 5 watchdogs_after_reload || fail "WATCHDOG=1 stopped after the reload: $(cat "$T/notify.log")"
kill -TERM "$RW_PID"; wait "$RW_PID"; RW_PID=
wait_for 5 grep -qx 'STOPPING=1' "$T/notify.log" || fail "no STOPPING=1"
echo "ops_systemd ok"
