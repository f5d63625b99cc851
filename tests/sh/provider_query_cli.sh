# provider_query_cli: `recwatch query qingcloud|agora ... [--sim]`: a success prints the
# normalised result as JSON (integers stay integers); errors go to stderr with an exit status
# per kind: invalid_argument 2, auth 3, not_found 4, network 7, protocol 9; usage errors 2.
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() {  # EXPECTED_STATUS args... : runs recwatch query, stdout in $T/o, stderr in $T/e
  local want=$1 rc
  shift
  "$RECWATCH" query "$@" >"$T/o" 2>"$T/e"
  rc=$?
  [ "$rc" = "$want" ] || fail "query $*: exit $rc, want $want; stderr: $(cat "$T/e")"
}

q 0 qingcloud --app-id demo-app --channel demo-channel --sim
[ ! -s "$T/e" ] || fail "stderr on success: $(cat "$T/e")"
grep -q '"id":39[,}]' "$T/o" || fail "id not printed as an integer: $(cat "$T/o")"
grep -q '[0-9]\.0[,}]' "$T/o" && fail "a float in the output: $(cat "$T/o")"
python3 - "$T/o" <<'PY' || fail "qingcloud JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["code"] == "success" and d["total_count"] == 1, d
t = d["recinfos"][0]
for k in ("id", "pid", "status", "size", "is_mix"):
    assert type(t[k]) is int, (k, t[k])
assert t["id"] == 39 and t["status_name"], t
PY

q 0 qingcloud --app-id demo-app --channel demo-channel --limit 5 --offset 0 --from-hour 24 --to-hour 0 --sim
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["limit"] == 5 and d["offset"] == 0, d' "$T/o" || fail "limit/offset"

q 0 agora --appid sim-agora-app --resourceid sim-resource-old --sid sid-oldstyle --mode individual --sim
python3 - "$T/o" <<'PY' || fail "agora JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == 5 and type(d["status"]) is int and d["status_name"] == "in_progress", d
sr = d["serverResponse"]
assert type(sr["sliceStartTime"]) is int and sr["fileList"][0]["isPlayable"] is True, sr
PY

# not_found: 4
q 4 agora --appid sim-agora-app --resourceid nope --sid nope --sim
grep -q "^recwatch query: not_found: .*failed to find worker" "$T/e" || fail "not_found message: $(cat "$T/e")"
[ ! -s "$T/o" ] || fail "stdout on error"

# invalid_argument: 2 (the binding's own validation; nothing is sent)
q 2 qingcloud --app-id demo-app --channel demo-channel --limit 101 --sim
grep -q "invalid_argument: .*limit" "$T/e" || fail "limit message: $(cat "$T/e")"
q 2 qingcloud --app-id demo-app --sim
grep -q "invalid_argument: .*channel" "$T/e" || fail "channel message: $(cat "$T/e")"
q 2 agora --appid a --resourceid r --sid s --mode foo --sim
grep -q "invalid_argument: .*mode" "$T/e" || fail "mode message: $(cat "$T/e")"
q 2 qingcloud --app-id demo-app --channel demo-channel --from-hour 1 --to-hour 2 --sim
grep -q "from_hour" "$T/e" || fail "hours message: $(cat "$T/e")"

# jq-friendly: one document, arrays stay arrays even when empty, '/' not escaped
command -v jq >/dev/null || fail "jq is missing (.ci/deps installs it)"
jqe() { jq -e "$1" "$T/o" >/dev/null || fail "jq '$1' on $(cat "$T/o")"; }
q 0 qingcloud --app-id nobody --channel none --sim
jqe '.recinfos == [] and .total_count == 0'
q 0 agora --appid sim-agora-app --resourceid sim-resource-web --sid sid-web --mode web --sim
jqe '.serverResponse.extensionServiceState[0].payload.fileList == [] and .status_name == "all_started"'
# --at: the default story 11 s in (task 39 has failed with 52); without it, t=0 (status 1)
q 0 qingcloud --app-id demo-app --channel demo-channel --sim
jqe '.recinfos[0].status == 1'
q 0 qingcloud --app-id demo-app --channel demo-channel --sim --at 11
jqe '.recinfos[0].status == 52 and .recinfos[0].status_name == "PushToQingstorFailed"'
jqe '(.recinfos[0].updated_ts - .recinfos[0].created_ts) == 10'
q 4 agora --appid sim-agora-app --resourceid sim-resource-abnormal --sid sid-abnormal --sim --at 30
# --scenario: the reply parts of the seed (Aliyun VOD, RTMP push, subServiceStatus, code)
COV="$SRC/tests/scenarios/reply_coverage.lua"
q 0 agora --appid cov-agora --resourceid cov-rid-vod --sid cov-vod --sim --scenario "$COV"
jqe '.code == 0 and .serverResponse.subServiceStatus.recordingService == "serviceReady"'
jqe '.serverResponse.extensionServiceState[0].payload.videoInfo[0].videoId == "vid-0001"'
q 0 agora --appid cov-agora --resourceid cov-rid-web --sid cov-web --mode web --sim --scenario "$COV"
jqe '.serverResponse.extensionServiceState[1].payload.outputs[0].rtmpUrl == "rtmp://cdn.example/live/cov"'
jqe '.serverResponse.extensionServiceState[0].payload.fileList[1].fileName == "cov-web_1.mp4"'
grep -q 'rtmp://cdn.example/live/cov' "$T/o" || fail "'/' escaped: $(cat "$T/o")"
# --all: every page to total_count, each task once
q 0 qingcloud --app-id pg-app --channel big --limit 7 --all --sim --scenario "$SRC/tests/scenarios/provider_paging.lua"
jqe '.total_count == 150 and (.recinfos | length) == 150 and ([.recinfos[].id] | unique | length) == 150'
jqe '.offset == 0 and .limit == 7'
q 2 qingcloud --app-id a --channel c --at 5
grep -q "go with --sim" "$T/e" || fail "--at without --sim: $(cat "$T/e")"
q 2 qingcloud --app-id a --channel c --sim --at soon
q 2 agora --appid a --resourceid r --sid s --all --sim

# usage errors: 2
q 2 dropbox --sim
q 2 agora --appid
q 2 qingcloud --app-id a --channel c --limit ten --sim
grep -q "whole number" "$T/e" || fail "usage message: $(cat "$T/e")"
q 2 agora --bogus x --sim

# auth: 3 (a wrong secret against a standalone sim; no credentials at all)
"$RECWATCH" sim --listen 127.0.0.1:0 --log-requests "$T/req.log" >"$T/sim.out" 2>"$T/sim.err" &
SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do grep -q RECWATCH_SIM_PORT "$T/sim.out" 2>/dev/null && break; sleep 0.05; done
eval "$(grep '^export ' "$T/sim.out")"
AGORA_CUSTOMER_SECRET=not-the-secret q 3 agora --appid sim-agora-app --resourceid sim-resource-healthy --sid sid-healthy
grep -q "^recwatch query: auth: agora: 401" "$T/e" || fail "auth message: $(cat "$T/e")"
QINGCLOUD_SECRET_ACCESS_KEY=not-the-secret q 3 qingcloud --app-id demo-app --channel demo-channel
grep -q "SignatureNotMatch" "$T/e" || fail "qingcloud auth message: $(cat "$T/e")"
grep -q "not-the-secret" "$T/e" && fail "secret in stderr"
env -u QINGCLOUD_ACCESS_KEY_ID "$RECWATCH" query qingcloud --app-id demo-app --channel demo-channel >"$T/o" 2>"$T/e"
[ $? = 3 ] && grep -q QINGCLOUD_ACCESS_KEY_ID "$T/e" || fail "missing key: $(cat "$T/e")"
# the standalone sim answers without --sim, from the environment
q 0 agora --appid sim-agora-app --resourceid sim-resource-healthy --sid sid-healthy
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert type(d["serverResponse"]["fileList"]) is str, d' "$T/o" || fail "agora string fileList"
# network: 7 (nothing listens on port 1; --retries 0: one attempt); protocol: 9 (no Route)
AGORA_API_BASE=http://127.0.0.1:1 q 7 agora --appid a --resourceid r --sid s --retries 0 --timeout 5
grep -q "^recwatch query: network: " "$T/e" || fail "network message: $(cat "$T/e")"
AGORA_API_BASE=$AGORA_API_BASE/extra q 9 agora --appid sim-agora-app --resourceid sim-resource-healthy --sid sid-healthy
grep -q "no Route matched" "$T/e" || fail "protocol message: $(cat "$T/e")"
echo "provider_query_cli ok"
