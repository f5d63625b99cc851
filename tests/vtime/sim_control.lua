-- A script for sim_control_test.lua: plays one story (arg[1]) of the simulator's control
-- calls with plain HTTP (rec.http), on the virtual clock, asserting each answer. It logs
-- "STORY OK <name>" at the end; any failed assertion fails the case (a task error).
local base = assert(rec.sim and rec.sim.base_url, "run under recwatch test")
local story = arg[1]
local AUTH = "Basic " .. rec.crypto.base64("ctl-customer:ctl-secret")
local APP = "ctl-app"

local function post(path, body, auth)
  local r, err = rec.http{ method = "POST", url = base .. "/v1/apps/" .. APP .. "/cloud_recording" .. path,
                           headers = { Authorization = auth or AUTH, ["Content-Type"] = "application/json" },
                           body = type(body) == "string" and body or rec.json.encode(body) }
  return r, err
end
local function query(rid, sid, mode)
  return assert(rec.http{ url = ("%s/v1/apps/%s/cloud_recording/resourceid/%s/sid/%s/mode/%s/query")
                          :format(base, APP, rid, sid, mode or "mix"), headers = { Authorization = AUTH } })
end
local function expect(r, status, code, what)
  assert(r, what .. ": no reply")
  local got = r.json and r.json.code
  if r.status ~= status or (code ~= nil and got ~= code) then
    error(("%s: expected %d/%s, got %d %s"):format(what, status, tostring(code), r.status, r.body), 2)
  end
  return r.json
end

local function storage() return { vendor = 1, region = 0, bucket = "b", accessKey = "AKSECRETLIKE", secretKey = "SKSECRET" } end
local function start_body(cname, uid, idle)
  return { cname = cname, uid = uid, clientRequest = {
    storageConfig = storage(), recordingConfig = { channelType = 0, maxIdleTime = idle } } }
end
local function acquire(cname, uid)
  return expect(post("/acquire", { cname = cname, uid = uid, clientRequest = {} }), 200, nil, "acquire").resourceId
end
local function start(rid, cname, uid, idle, mode)
  return post(("/resourceid/%s/mode/%s/start"):format(rid, mode or "mix"), start_body(cname, uid, idle))
end
local function on_sid(call, rid, sid, cname, uid, mode)
  return post(("/resourceid/%s/sid/%s/mode/%s/%s"):format(rid, sid, mode or "mix", call),
              { cname = cname, uid = uid, clientRequest = {} })
end
local function billed()
  return assert(rec.http{ url = base .. "/_sim/billed" }).json
end

local S = {}

function S.resource()
  -- a resource id not started within 5 minutes is refused (legacy code 433)
  local old = acquire("ch", "11")
  rec.sleep(300)
  expect(start(old, "ch", "11"), 400, 433, "start on an expired resource id")
  -- a fresh one starts; it serves one session: after its stop, start on it is refused
  local rid = acquire("ch", "11")
  rec.sleep(299)
  local sid = expect(start(rid, "ch", "11"), 200, nil, "start within 5 minutes").sid
  assert(sid and sid ~= "", "a sid")
  expect(on_sid("stop", rid, sid, "ch", "11"), 200, nil, "stop")
  expect(start(rid, "ch", "11"), 400, 433, "start on a used resource id")
  -- cname/uid must be the acquire's; an unknown resource id is refused
  local r2 = acquire("ch", "12")
  expect(start(r2, "ch", "13"), 400, 432, "uid not the acquire's")
  expect(start("no-such-rid", "ch", "12"), 400, 2, "unknown resource id")
  assert(billed().agora == 1, "one billed start")
end

function S.conflict()
  local rid = acquire("ch", "21")
  local sid = expect(start(rid, "ch", "21"), 200, nil, "start").sid
  expect(start(rid, "ch", "21"), 201, 7, "the same start again: already started")
  local rid2 = acquire("ch", "21")
  expect(start(rid2, "ch", "21"), 400, 53, "same cname+uid, new resource id: task conflict")
  local rid3 = acquire("ch", "22")
  local sid3 = expect(start(rid3, "ch", "22"), 200, nil, "another uid").sid
  assert(sid3 ~= sid, "a new sid")
  -- once the first has stopped, its cname+uid may start again (new acquire)
  expect(on_sid("stop", rid, sid, "ch", "21"), 200, nil, "stop")
  local rid4 = acquire("ch", "21")
  expect(start(rid4, "ch", "21"), 200, nil, "the uid is free again")
  local b = billed()
  assert(b.agora == 3 and b.agora_apps[APP] == 3 and b.agora_running == 2, rec.json.encode(b))
end

function S.query()
  local rid = acquire("ch", "31")
  local sid = expect(start(rid, "ch", "31"), 200, nil, "start").sid
  local statuses = {}
  for i = 1, 4 do
    local j = expect(query(rid, sid), 200, nil, "query")
    statuses[i] = j.serverResponse.status
    assert(j.sid == sid and j.resourceId == rid and j.serverResponse.fileListMode == "string", query(rid, sid).body)
    rec.sleep(1)
  end
  assert(table.concat(statuses, ",") == "1,4,5,5", table.concat(statuses, ","))
  -- the client's own query (schema, normaliser) takes the session's replies
  local res, err = rec.query_agora{ appid = APP, resourceid = rid, sid = sid, mode = "mix" }
  assert(res and res.serverResponse.status == 5, tostring(err))
  expect(on_sid("update", rid, sid, "ch", "31"), 200, nil, "update")
  expect(on_sid("updateLayout", rid, sid, "ch", "31"), 200, nil, "updateLayout")
  expect(on_sid("update", rid, sid, "ch", "32"), 400, 432, "update with another uid")
  expect(query(rid, sid, "individual"), 404, 404, "query in another mode")
  -- individual mode: JSON file list; updateLayout is for mix only
  local ri = acquire("ind", "33")
  local body = start_body("ind", "33")
  body.clientRequest.recordingConfig.subscribeUidGroup = 0
  local si = expect(post("/resourceid/" .. ri .. "/mode/individual/start", body), 200, nil, "individual start").sid
  rec.sleep(3)
  local j = expect(query(ri, si, "individual"), 200, nil, "individual query")
  assert(j.serverResponse.fileListMode == "json" and j.serverResponse.fileList[1].uid == "33", query(ri, si, "individual").body)
  expect(on_sid("updateLayout", ri, si, "ind", "33", "individual"), 400, 2, "updateLayout in individual mode")
  -- a scenario timeline for the channel: status 20 at 10 s, then the worker 404 after linger
  local rf = acquire("crash", "34")
  local sf = expect(start(rf, "crash", "34"), 200, nil, "start").sid
  rec.sleep(10)
  assert(expect(query(rf, sf), 200, nil, "query").serverResponse.status == 20, "status 20")
  expect(on_sid("update", rf, sf, "crash", "34"), 404, 404, "update an exited session")
  rec.sleep(5)
  expect(query(rf, sf), 404, 404, "gone after linger")
end

function S.stop()
  local rid = acquire("ch", "41")
  local sid = expect(start(rid, "ch", "41"), 200, nil, "start").sid
  rec.sleep(5)
  local j = expect(on_sid("stop", rid, sid, "ch", "41"), 200, nil, "stop")
  assert(j.serverResponse.uploadingStatus == "uploaded" and j.sid == sid, rec.json.encode(j))
  expect(on_sid("stop", rid, sid, "ch", "41"), 400, 49, "a second stop")
  rec.sleep(5)
  expect(on_sid("stop", rid, sid, "ch", "41"), 404, 404, "stop once the session is gone")
  expect(on_sid("stop", rid, "sim-sid-999", "ch", "41"), 404, 404, "stop of an unknown sid")
  -- the scenario's channel "backup" uploads to Agora's backup: backuped
  local rb = acquire("backup", "42")
  local sb = expect(start(rb, "backup", "42", 300), 200, nil, "start").sid
  rec.sleep(5)
  j = expect(on_sid("stop", rb, sb, "backup", "42"), 200, nil, "stop")
  assert(j.serverResponse.uploadingStatus == "backuped", rec.json.encode(j))
  -- nobody published in "empty" while it ran: 206/435
  local re = acquire("empty", "43")
  local se = expect(start(re, "empty", "43", 300), 200, nil, "start").sid
  rec.sleep(5)
  expect(on_sid("stop", re, se, "empty", "43"), 206, 435, "stop with nothing recorded")
end

function S.idle()
  -- "idle": someone publishes from 0 to 20 s; maxIdleTime 10 ends the session at 30 s
  local rid = acquire("idle", "51")
  local sid = expect(start(rid, "idle", "51", 10), 200, nil, "start").sid
  rec.sleep(29.5)
  assert(expect(query(rid, sid), 200, nil, "query").serverResponse.status == 5, "running at 29.5 s")
  rec.sleep(1)
  assert(expect(query(rid, sid), 200, nil, "query").serverResponse.status == 8, "exited at 30.5 s")
  expect(on_sid("stop", rid, sid, "idle", "51"), 400, 49, "stop after maxIdleTime")
  rec.sleep(5)
  expect(query(rid, sid), 404, 404, "gone after linger")
  -- nobody ever in "empty": the default maxIdleTime (30 s) ends it
  local re = acquire("empty", "52")
  local se = expect(start(re, "empty", "52"), 200, nil, "start").sid
  rec.sleep(29.9)
  assert(expect(query(re, se), 200, nil, "query").serverResponse.status == 5, "running at 29.9 s")
  rec.sleep(0.2)
  assert(expect(query(re, se), 200, nil, "query").serverResponse.status == 8, "exited at 30.1 s")
  -- an idle-ended session frees its slot: its uid may start again
  expect(start(acquire("empty", "52"), "empty", "52"), 200, nil, "start again")
end

function S.concurrency()  -- control.concurrency = 2
  local a = acquire("c1", "61")
  local sa = expect(start(a, "c1", "61"), 200, nil, "first").sid
  local b = acquire("c2", "62")
  expect(start(b, "c2", "62"), 200, nil, "second")
  local over = post("/acquire", { cname = "c3", uid = "63", clientRequest = {} })
  expect(over, 400, 406, "acquire over the limit")
  assert(over.json.reason == "vendor_over_load", over.body)
  expect(on_sid("stop", a, sa, "c1", "61"), 200, nil, "stop one")
  expect(start(acquire("c3", "63"), "c3", "63"), 200, nil, "room again")
  assert(billed().agora == 3, "three billed")
end

function S.validation()
  expect(post("/acquire", { cname = "c", uid = "0", clientRequest = {} }), 400, 2, "uid 0")
  expect(post("/acquire", { cname = "c", uid = 5, clientRequest = {} }), 400, 2, "uid not quoted")
  expect(post("/acquire", { cname = "c", uid = "4294967296", clientRequest = {} }), 400, 2, "uid too big")
  expect(post("/acquire", { cname = "c", uid = "1" }), 400, 2, "no clientRequest")
  expect(post("/acquire", { cname = "c", uid = "1", clientRequest = { scene = 2 } }), 400, 2, "scene 2 was removed")
  expect(post("/acquire", "{not json"), 400, 2, "malformed body")
  expect(post("/acquire", "[]"), 400, 2, "not an object")
  local r = post("/acquire", { cname = "c", uid = "1", clientRequest = {} }, "Basic " .. rec.crypto.base64("ctl-customer:wrong"))
  assert(r.status == 401 and r.json.message == "Invalid authentication credentials", r.body)
  r = assert(rec.http{ url = base .. "/v1/apps/" .. APP .. "/cloud_recording/acquire", headers = { Authorization = AUTH } })
  assert(r.status == 404 and r.json.message == "no Route matched with those values", "GET acquire: " .. r.body)
  local rid = acquire("c", "71")
  local function bad(mut, what)
    local b = start_body("c", "71")
    mut(b.clientRequest)
    expect(post("/resourceid/" .. rid .. "/mode/mix/start", b), 400, 2, what)
  end
  bad(function(cr) cr.storageConfig = nil end, "no storageConfig")
  bad(function(cr) cr.storageConfig.secretKey = nil end, "no secretKey")
  bad(function(cr) cr.storageConfig.vendor = 4 end, "vendor 4")
  bad(function(cr) cr.recordingConfig = nil end, "no recordingConfig in mix mode")
  bad(function(cr) cr.recordingConfig.maxIdleTime = 3 end, "maxIdleTime 3")
  bad(function(cr) cr.recordingFileConfig = { avFileType = { "mp4" } } end, "mp4 alone")
  bad(function(cr) cr.recordingFileConfig = { avFileType = "hls" } end, "avFileType not a list")
  bad(function(cr) cr.recordingFileConfig = { avFileType = { "hls", "flv" } } end, "avFileType flv")
  expect(post("/resourceid/" .. rid .. "/mode/bogus/start", start_body("c", "71")), 400, 2, "mode bogus")
  local ok = start_body("c", "71")
  ok.clientRequest.recordingFileConfig = { avFileType = { "hls", "mp4" } }
  expect(post("/resourceid/" .. rid .. "/mode/mix/start", ok), 200, nil, "hls+mp4 starts")
  assert(billed().agora == 1, "one billed")
end

function S.ratelimit()  -- agora.rate_limit = 2: control calls count with the queries
  local codes = {}
  for i = 1, 3 do codes[i] = post("/acquire", { cname = "c", uid = tostring(80 + i), clientRequest = {} }).status end
  assert(table.concat(codes, ",") == "200,200,429", table.concat(codes, ","))
  rec.sleep(1)
  local rid = acquire("c", "84")
  rec.sleep(1)
  local r = query(rid, "nope")
  expect(r, 404, 404, "a query counts")
  expect(start(rid, "c", "84"), 200, nil, "start")
  expect(start(rid, "c", "84"), 429, nil, "the third call within a second")
end

function S.ha()  -- agora_404 on /sid/sim-sid-1/ from 10 s for 60 s
  local rid = acquire("ch", "91")
  local sid = expect(start(rid, "ch", "91"), 200, nil, "start").sid
  assert(sid == "sim-sid-1", sid)
  rec.sleep(9)
  expect(query(rid, sid), 200, nil, "before the window")
  rec.sleep(2)
  expect(query(rid, sid), 404, 404, "in the window")
  expect(on_sid("stop", rid, sid, "ch", "91"), 404, 404, "stop in the window")
  rec.sleep(59)
  local j = expect(query(rid, sid), 200, nil, "after the window: alive")
  assert(j.serverResponse.status == 5, "still recording")
  expect(on_sid("stop", rid, sid, "ch", "91"), 200, nil, "stop after the window")
end

function S.faults()
  -- acquire: 500 html once; start: 206/65, 504/62, 500/502, drop, delay 3 s, each once
  local r = post("/acquire", { cname = "ch", uid = "101", clientRequest = {} })
  assert(r.status == 500 and r.body:find("<html>"), "acquire 500: " .. r.body)
  local rid = acquire("ch", "101")
  expect(start(rid, "ch", "101"), 206, 65, "206/65")
  expect(start(rid, "ch", "101"), 504, 62, "504/62")
  expect(start(rid, "ch", "101"), 500, 502, "500/502")
  local d, derr = start(rid, "ch", "101")
  assert(d == nil and derr, "drop: no answer")
  local t0 = rec.now()
  local sid = expect(start(rid, "ch", "101"), 200, nil, "delayed start").sid
  assert(rec.now() - t0 >= 3, "delayed 3 s")
  -- a faulted start started nothing: one billed
  assert(billed().agora == 1, rec.json.encode(billed()))
  expect(on_sid("update", rid, sid, "ch", "101"), 504, 62, "update 504/62")
  expect(on_sid("stop", rid, sid, "ch", "101"), 206, 65, "stop 206/65")
  expect(on_sid("stop", rid, sid, "ch", "101"), 200, nil, "stop")
end

function S.hold()  -- the 1st start's answer held 5 s then sent; the 2nd held 5 s then dropped
  local rid = acquire("ch", "111")
  local seen
  local peek = rec.spawn(function() rec.sleep(1); seen = billed() end)
  local t0 = rec.now()
  local sid = expect(start(rid, "ch", "111"), 200, nil, "held start").sid
  assert(rec.now() - t0 >= 5, "held 5 s")
  peek:wait()
  assert(seen.agora == 1 and seen.agora_running == 1, "started (billed) while its answer was held: " .. rec.json.encode(seen))
  expect(query(rid, sid), 200, nil, "query")
  local rid2 = acquire("ch2", "112")
  t0 = rec.now()
  local r, err = start(rid2, "ch2", "112")
  assert(r == nil and err, "dropped answer")
  assert(rec.now() - t0 >= 5, "dropped after 5 s")
  assert(billed().agora == 2, "the dropped start started too")
  -- the caller never learned its sid; a retry proves it runs: 7 on the same id, 53 on a new one
  expect(start(rid2, "ch2", "112"), 201, 7, "retry: already started")
  expect(start(acquire("ch2", "112"), "ch2", "112"), 400, 53, "new acquire: task conflict")
  expect(query(rid2, "sim-sid-2"), 200, nil, "the unseen recorder runs")
end

-- QingCloud: signed like the queries; the body is JSON, signed over its exact bytes
local QK, QS = "CTLQCKEY", "ctl-qc-secret"
local function qc(method, body, tamper)
  local enc = rec.crypto.urlencode
  local params = { access_key_id = QK, signature_method = "HmacSHA256", signature_version = "1",
                   time_stamp = os.date("!%Y-%m-%dT%H:%M:%SZ") }
  local keys = {}
  for k in pairs(params) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = enc(k) .. "=" .. enc(params[k]) end
  local canonical = table.concat(parts, "&")
  local raw = body and rec.json.encode(body) or nil
  local sts = method .. "\n/v1/cloudRecord/\n" .. canonical .. "\n" .. rec.crypto.md5_hex(raw or "null")
  local sig = rec.crypto.base64(rec.crypto.hmac_sha256(QS, sts))
  return assert(rec.http{ method = method, url = base .. "/v1/cloudRecord?" .. canonical .. "&signature=" .. enc(sig),
                          headers = { ["Content-Type"] = "application/json" },
                          body = tamper and (raw .. " ") or raw })
end
local function qc_list(ch)
  local enc = rec.crypto.urlencode
  local params = { access_key_id = QK, signature_method = "HmacSHA256", signature_version = "1",
                   time_stamp = os.date("!%Y-%m-%dT%H:%M:%SZ"), app_id = "qa", channel = ch,
                   from_hour = "24", to_hour = "0" }
  local keys = {}
  for k in pairs(params) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = enc(k) .. "=" .. enc(params[k]) end
  local canonical = table.concat(parts, "&")
  local sts = "GET\n/v1/cloudRecord/\n" .. canonical .. "\n" .. rec.crypto.md5_hex("null")
  local sig = rec.crypto.base64(rec.crypto.hmac_sha256(QS, sts))
  local r = assert(rec.http{ url = base .. "/v1/cloudRecord?" .. canonical .. "&signature=" .. enc(sig) })
  assert(r.status == 200, r.body)
  return r.json.recinfos
end

function S.qingcloud()
  local start_req = { app_id = "qa", project_id = "proj", channel = "room", sign_key = "SIGNKEYSECRET", is_mixing_enabled = 1 }
  local r = qc("POST", start_req)  -- the scenario's fault: method = "POST", once
  assert(r.status == 500, "the POST fault: " .. r.body)
  assert(#qc_list("room") == 0, "a faulted start started nothing; the GET is not faulted")
  r = qc("POST", start_req)
  assert(r.status == 200 and r.json.code == "success" and math.type(r.json.task_id) == "integer", r.body)
  local id = r.json.task_id
  rec.sleep(1.5)
  local l = qc_list("room")
  assert(#l == 1 and l[1].id == id and l[1].status == 2 and l[1].is_mix == 1, rec.json.encode(l))
  -- tampered body: the signature covers the exact bytes
  r = qc("POST", start_req, true)
  assert(r.status == 401 and r.json.code == "SignatureNotMatch", r.body)
  r = qc("POST", { app_id = "qa", project_id = "proj", channel = "room" })
  assert(r.status == 400 and r.body:find("sign_key"), r.body)
  r = qc("POST", { app_id = "qa", project_id = "proj", channel = "room", sign_key = "k", isAudioOnly = 1, isVideoOnly = 1 })
  assert(r.status == 400, r.body)
  r = qc("POST", { app_id = "qa", project_id = "proj", channel = "nobody", sign_key = "k" })
  assert(r.status == 400 and r.json.code == "NoUserInChannel", r.body)
  -- stop takes app_id, project_id and channel: the channel's recording stops
  r = qc("PATCH", { app_id = "qa", project_id = "proj", channel = "room" })
  assert(r.status == 200 and r.json.code == "success" and r.json.data == "success", r.body)
  assert(qc_list("room")[1].status == 4, "Stopping")
  rec.sleep(1)
  assert(qc_list("room")[1].status == 8, "PushingToQingstor")
  rec.sleep(600)
  assert(qc_list("room")[1].status == 10, "Stopped after the upload lag")
  -- the auto stop: "brief" has a user from 0 to 700 s; 6 minutes later (1060 s) it stops
  r = qc("POST", { app_id = "qa", project_id = "proj", channel = "brief", sign_key = "k" })
  assert(r.status == 200, r.body)
  rec.sleep(1059 - rec.now() + 0.5)  -- now ~= 1059.5
  assert(qc_list("brief")[1].status == 2, "recording at 1059.5 s: " .. rec.now())
  rec.sleep(1)
  assert(qc_list("brief")[1].status == 5, "AutoStopping at 1060.5 s")
  local b = billed()
  assert(b.qingcloud == 2 and b.agora == 0, rec.json.encode(b))
end

assert(S[story], "no story " .. tostring(story))()
rec.log.info("STORY OK %s", story)
