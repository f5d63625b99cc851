# SIGTERM/SIGINT during pending sleeps and requests: pending calls return "cancelled", tasks
# run their cleanup, the process exits 0 promptly and says it was stopped.
set -u
: "${RECWATCH:?}"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cat > "$T/scenario.lua" <<'LUA'
return { faults = { { provider = "agora", kind = "delay", ms = 60000 } } }
LUA
cat > "$T/pending.lua" <<'LUA'
local tasks = {}
for i = 1, 50 do
  tasks[#tasks + 1] = rec.spawn(function()
    local ok, err = rec.sleep(60)
    print("sleep " .. i .. " -> " .. tostring(err and err.kind))
  end)
end
tasks[#tasks + 1] = rec.spawn(function()
  local r, err = rec.query_agora{ appid = "sim-agora-app", resourceid = "sim-resource-healthy",
                                  sid = "sid-healthy", timeout = 120 }
  print("query -> " .. tostring(err and err.kind))
end)
rec.every(0.1, function() end)
print("ready")
io.stdout:flush()
for _, t in ipairs(tasks) do t:wait() end
print("main cleanup done")
LUA
for sig in TERM INT; do
  "$RECWATCH" run --sim --scenario "$T/scenario.lua" "$T/pending.lua" >"$T/o" 2>"$T/e" &
  pid=$!
  for i in $(seq 100); do grep -q ready "$T/o" 2>/dev/null && break; sleep 0.05; done
  sleep 0.3
  kill -$sig $pid
  for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
  kill -0 $pid 2>/dev/null && { kill -9 $pid; fail "SIG$sig: still running 5 s later"; }
  wait $pid; status=$?
  [ $status -eq 0 ] || fail "SIG$sig: exit status $status: $(cat "$T/e")"
  [ "$(grep -c 'sleep .* -> cancelled' "$T/o")" -eq 50 ] || fail "SIG$sig: sleeps not cancelled: $(cat "$T/o")"
  grep -q "query -> cancelled" "$T/o" || fail "SIG$sig: request not cancelled"
  grep -q "main cleanup done" "$T/o" || fail "SIG$sig: main task did not finish its cleanup"
  grep -q "stopping (SIG$sig)" "$T/e" || fail "SIG$sig: does not say it was stopped: $(cat "$T/e")"
done
echo "engine_signals ok"
