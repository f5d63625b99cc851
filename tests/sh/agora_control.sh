# rec.agora.* over real HTTP against a stand-in that answers from a plan
# (helpers/agora_ctl_api.py): every call's method, path and body; the documented outcomes
# (201/7 and 400/53 "running", 400/49 and 404 "already stopped", 206/435 "nothing
# recorded") as result fields; 206/65 retried after >= 3 s, a 503 after >= 3 s, a 400 never;
# acquire's 406 typed; typed refusals before any request; and the clientRequest's storage
# keys and token in no log line and no error, even when the server echoes them.
set -eu
T=$(mktemp -d)
HPID=
cleanup() { [ -n "$HPID" ] && kill "$HPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
F="$SRC/tests/fixtures"

python3 - "$T/plan.json" "$F" <<'PY'
import json, sys
F = sys.argv[2]
def fx(name): return open(F + "/" + name).read()
plan = {
  "acquire": [[200, fx("agora_ctl_200_acquire.json")]],
  "acquire@full": [[400, fx("agora_ctl_400_code406.json")]],
  "start": [[200, fx("agora_ctl_200_start.json")]],
  "start@dup": [[201, fx("agora_ctl_201_code7.json")]],
  "start@conflict": [[400, fx("agora_ctl_400_code53.json")]],
  "start@jitter": [[206, fx("agora_206_code65.json")], [200, fx("agora_ctl_200_start.json")]],
  "start@busy": [[503, '{"code":503,"reason":"busy"}'], [200, fx("agora_ctl_200_start.json")]],
  "start@bad": [[400, fx("agora_400_code2.json")]],
  "start@echo": [[400, '{"code":2,"reason":"bad key SECRETKEY-echo-4711 for bucket"}']],
  "query": [[200, fx("agora_200_mix_json.json")]],
  "update": [[200, fx("agora_ctl_200_update.json")]],
  "updateLayout": [[200, fx("agora_ctl_200_update.json")]],
  "stop": [[200, fx("agora_ctl_200_stop_json.json")]],
  "stop@gone": [[404, fx("agora_404_worker.json")]],
  "stop@exiting": [[400, fx("agora_ctl_400_code49.json")]],
  "stop@empty": [[206, fx("agora_ctl_206_code435.json")]],
}
json.dump(plan, open(sys.argv[1], "w"))
PY
python3 "$HELPERS/agora_ctl_api.py" "$T/plan.json" >"$T/port" &
HPID=$!
for _ in $(seq 100); do grep -q PORT "$T/port" 2>/dev/null && break; sleep 0.05; done
PORT=$(awk '/PORT/{print $2}' "$T/port")

cat >"$T/c.lua" <<'LUA'
local ok, err = xpcall(function()
assert(rec.features.urgent == true, "rec.features.urgent")
-- the queries' retry settings are not the control calls' (theirs are documented)
rec.configure{ agora = { retries = 0, retry_delays = { 0.1 } } }
local A = "app1"
local function client(extra)
  local c = { token = "TOKEN-abc-998877",
    storageConfig = { vendor = 1, region = 0, bucket = "b", accessKey = "ACCESSKEY-xyz-123",
                      secretKey = "SECRETKEY-echo-4711" },
    recordingConfig = { channelType = 1 },
    recordingFileConfig = { avFileType = { "hls", "mp4" } } }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end
local function start(cname) return rec.agora.start{ appid = A, cname = cname, uid = "527841",
  resourceid = "rid1", mode = "mix", clientRequest = client() } end
local function stop(cname) return rec.agora.stop{ appid = A, cname = cname, uid = "527841",
  resourceid = "rid1", sid = "sid1", mode = "mix" } end
local function check(r, e, what) assert(r, (what or "call") .. ": " .. tostring(e and e.message)) return r end

-- the retried ones first, in their own tasks: their waits overlap the rest
local jitter = rec.spawn(function() return start("jitter") end)
local busy = rec.spawn(function() return start("busy") end)

local r = check(rec.agora.acquire{ appid = A, cname = "room", uid = "527841",
  clientRequest = { resourceExpiredHour = 24 } }, nil, "acquire")
assert(r.resourceId:match("^JyvK"), "resourceId")
r = check(start("room"))
assert(r.sid == "38f8e3cfdc474cd56fc1ceba380d7e1a" and r.outcome == "ok" and r.running, "start")
r = check(start("dup"))
assert(r.outcome == "already_started" and r.running and r.already_started and r.code == 7, "201/7")
r = check(start("conflict"))
assert(r.outcome == "conflict_running" and r.running and r.conflict and r.code == 53, "400/53")
local e
r, e = start("bad")
assert(not r and e.kind == "invalid_argument" and e.code == 2 and e.attempts == 1, "400/2")
r, e = start("echo")
assert(not r and e.kind == "invalid_argument", "echo")
assert(not e.message:find("SECRETKEY", 1, true), "a secret in an error: " .. e.message)
r, e = rec.agora.acquire{ appid = A, cname = "full", uid = "527841" }
assert(not r and e.kind == "server" and e.code == 406 and e.attempts == 1, "406: " .. tostring(e and e.message))
r = check(rec.agora.query{ appid = A, resourceid = "rid1", sid = "sid1", mode = "mix" })
assert(r.status == 5 and r.status_name == "in_progress", "query")
r = check(rec.agora.update{ appid = A, cname = "room", uid = "527841", resourceid = "rid1",
  sid = "sid1", mode = "mix", clientRequest = { streamSubscribe = { audioUidList = {
  subscribeAudioUids = { "#allstream#" } } } } })
assert(r.outcome == "ok" and r.sid, "update")
r = check(rec.agora.update_layout{ appid = A, cname = "room", uid = "527841", resourceid = "rid1",
  sid = "sid1", clientRequest = { mixedVideoLayout = 1 } })
assert(r.outcome == "ok", "update_layout")
r = check(stop("room"))
assert(r.outcome == "ok" and r.stopped and r.serverResponse.uploadingStatus == "uploaded", "stop")
assert(#r.serverResponse.fileList == 2, "fileList")
r = check(stop("gone"))
assert(r.outcome == "already_stopped" and r.already_stopped and r.stopped, "404")
r = check(stop("exiting"))
assert(r.outcome == "already_stopped" and r.code == 49, "400/49")
r = check(stop("empty"))
assert(r.outcome == "nothing_recorded" and r.nothing_recorded, "206/435")

-- refused before any request, typed
local bad = {
  { uid = "0" }, { uid = 527841 }, { uid = "x" }, { mode = "both" },
  { clientRequest = client{ recordingFileConfig = { avFileType = { "mp4" } } } },
  { clientRequest = client{ storageConfig = { vendor = 4, region = 0, bucket = "b",
      accessKey = "ACCESSKEY-xyz-123", secretKey = "SECRETKEY-echo-4711" } } },
  { clientRequest = client{ storageConfig = { vendor = 1, region = 0, bucket = "b",
      accessKey = "ACCESSKEY-xyz-123" } } },
  { clientRequest = client{ recordingConfig = false } },
  { timout = 3 },
}
for i, over in ipairs(bad) do
  local p = { appid = A, cname = "refused", uid = "527841", resourceid = "rid1", mode = "mix",
              clientRequest = client() }
  for k, v in pairs(over) do p[k] = v end
  if over.clientRequest and over.clientRequest.recordingConfig == false then
    p.clientRequest.recordingConfig = nil
  end
  r, e = rec.agora.start(p)
  assert(not r and e.kind == "invalid_argument", "refusal " .. i .. ": " .. tostring(r))
  assert(not e.message:find("SECRETKEY", 1, true) and not e.message:find("ACCESSKEY", 1, true))
  rec.log.info("REFUSED %d %s", i, e.message)
end

local okj, rj = jitter:wait()
assert(okj and rj and rj.outcome == "ok", "206/65 then 200")
local okb, rb = busy:wait()
assert(okb and rb and rb.outcome == "ok", "503 then 200")
rec.log.debug("a debug line with the storage config: %s", rec.json.encode(client()))
rec.log.info("DONE")
end, debug.traceback)
if not ok then rec.log.error("%s", err) rec.exit(1) end
LUA
AGORA_API_BASE="http://127.0.0.1:$PORT" AGORA_CUSTOMER_ID=c AGORA_CUSTOMER_SECRET=s \
  "$RECWATCH" run --log-level debug "$T/c.lua" 2>"$T/log" || { rc=$?; cat "$T/log"; echo "FAIL: recwatch exited $rc"; exit 1; }
grep -q DONE "$T/log" || { cat "$T/log"; echo "FAIL: no DONE"; exit 1; }
for s in SECRETKEY-echo-4711 ACCESSKEY-xyz-123 TOKEN-abc-998877; do
  if grep -q "$s" "$T/log"; then grep "$s" "$T/log" | cut -c1-200; echo "FAIL: $s logged"; exit 1; fi
done
python3 - "$T/plan.json.log" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
def by(cname, verb):
    return [r for r in reqs if r["path"].endswith("/" + verb) and (r["body"] and json.loads(r["body"]).get("cname") == cname)]
assert all(r["auth"] for r in reqs), "Basic auth on every request"
assert not [r for r in reqs if "refused" in (r["body"] or "")], "a refused call was sent"
for cname, n in [("bad", 1), ("echo", 1), ("dup", 1), ("conflict", 1), ("room", 1)]:
    got = len(by(cname, "start"))
    assert got == n, "%s: %d starts" % (cname, got)
assert len(by("full", "acquire")) == 1, "406 retried"
for cname in ("jitter", "busy"):
    rs = by(cname, "start")
    assert len(rs) == 2, "%s: %d starts" % (cname, len(rs))
    gap = rs[1]["t"] - rs[0]["t"]
    assert gap >= 3.0, "%s: retried after %.2f s" % (cname, gap)
    print("GAP %s %.2f" % (cname, gap))
start = by("room", "start")[0]
assert start["method"] == "POST"
assert start["path"] == "/v1/apps/app1/cloud_recording/resourceid/rid1/mode/mix/start", start["path"]
b = json.loads(start["body"])
assert b["cname"] == "room" and b["uid"] == "527841"
assert b["clientRequest"]["storageConfig"]["secretKey"] == "SECRETKEY-echo-4711", "passed through"
assert b["clientRequest"]["recordingFileConfig"]["avFileType"] == ["hls", "mp4"]
q = [r for r in reqs if r["path"].endswith("/query")]
assert len(q) == 1 and q[0]["method"] == "GET" and q[0]["path"] == "/v1/apps/app1/cloud_recording/resourceid/rid1/sid/sid1/mode/mix/query"
ul = [r for r in reqs if r["path"].endswith("/updateLayout")]
assert len(ul) == 1 and "/mode/mix/updateLayout" in ul[0]["path"]
acq = by("room", "acquire")[0]
assert acq["path"] == "/v1/apps/app1/cloud_recording/acquire"
assert json.loads(acq["body"])["clientRequest"] == {"resourceExpiredHour": 24}
print("REQUESTS %d" % len(reqs))
PY
grep -E "REFUSED" "$T/log" | cut -c1-160
echo ok
