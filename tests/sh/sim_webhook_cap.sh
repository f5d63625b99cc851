# The simulator's webhook sink keeps bodies for t:webhooks() only up to a cap (10,000 or
# 16 MiB): a simulator left running (or fuzzed) must not grow without end. Past the cap it
# still answers every POST and says once that it stopped keeping them.
. "${HELPERS:-$SRC/tests/helpers}/sim_lib.sh"
sim_start
python3 - "$SIM_PORT" <<'PY' || fail "posting to the webhook sink failed"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
for i in range(10005):
    c.request("POST", "/_sim/webhook", body=b'{"text":"alert %d"}' % i,
              headers={"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
grep -q 'webhook sink keeps the first 10000 bodies' "$SIM_TMP/sim.err" || fail "no cap message: $(tail -3 "$SIM_TMP/sim.err")"
[ "$(grep -c 'webhook sink keeps the first' "$SIM_TMP/sim.err")" = 1 ] || fail "the cap message is not logged once"
grep -q 'webhook received: {"text":"alert 10004"}' "$SIM_TMP/sim.err" || fail "alerts past the cap are not logged"
echo "sim_webhook_cap ok"
