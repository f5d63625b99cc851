# admin_bounds (issue 23): a script that does not answer cannot hold the listener. Its admin
# requests get 504 after 10 s, the 33rd waiting one is refused at once (503, busy), /healthz
# and /metrics answer meanwhile, and the slots come back: once the script answers again, so
# does the route. Also --admin-remote without a token file is a usage error.
source "$HELPERS/ops_lib.sh"

TOKEN=tok-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$T/token"
cat >"$T/stuck.lua" <<'LUA'
local flag = arg[1]
rec.admin.serve(function(req)
  while not io.open(flag) do rec.sleep(0.05) end   -- stuck until the test says
  rec.admin.reply(req.id, 200, '{"answered":true}')
end)
rec.sleep(1e6)
LUA
rw_start run --listen 127.0.0.1:0 --admin-token-file "$T/token" "$T/stuck.lua" "$T/flag"
get() {  # get N: GET /admin/silences, status into $T/s.N, body into $T/b.N
  curl -s -o "$T/b.$1" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $TOKEN" \
    "$URL/admin/silences" >"$T/s.$1"
}
pids=
for i in $(seq 40); do get "$i" & pids="$pids $!"; done
# 32 wait (queued or handled); the other 8 are refused at once
busy() { [ "$(grep -l "^503$" "$T"/s.* 2>/dev/null | wc -l)" = 8 ]; }
wait_for 20 busy || fail "not 8 refused at once: $(grep -c . "$T"/s.* | tr "\n" " ")"
[ "$(code /healthz)" = 200 ] || fail "/healthz while the script is stuck: $(cat "$T/body")"
[ "$(code /metrics)" = 200 ] || fail "/metrics while the script is stuck"
wait $pids
n504=0
for i in $(seq 40); do
  case "$(cat "$T/s.$i")" in
    504) n504=$((n504 + 1)); grep -q "did not answer within 10 s" "$T/b.$i" || fail "504 says: $(cat "$T/b.$i")" ;;
    503) grep -q "busy" "$T/b.$i" || fail "503 says: $(cat "$T/b.$i")" ;;
    *) fail "request $i: $(cat "$T/s.$i") $(cat "$T/b.$i")" ;;
  esac
done
[ "$n504" = 32 ] || fail "$n504 requests timed out, not 32"
touch "$T/flag"   # the script answers again (its late answers go nowhere)
wait_for 10 sh -c "curl -s --max-time 5 -H 'Authorization: Bearer $TOKEN' '$URL/admin/silences' | grep -q answered" ||
  fail "the slots did not come back"
kill -0 "$RW_PID" || fail "recwatch died"
grep -q "$TOKEN" "$T/rw.err" "$T/rw.out" && fail "the token in the log"

"$RECWATCH" run --admin-remote "$T/stuck.lua" 2>"$T/e"
[ $? = 2 ] && grep -q -- "--admin-remote goes with --admin-token-file" "$T/e" || fail "--admin-remote alone: $(cat "$T/e")"
echo "ok: a stuck script holds the admin route for 10 s at most"
