-- Normalisation end-to-end on the default scenario: whole numbers are Lua integers, old-style
-- Agora replies (numbers and booleans as strings) come out as integers and booleans, a string
-- fileList stays a string and a json one an array, web mode passes extensionServiceState
-- through, res.status/status_name are lifted from serverResponse; QingCloud recinfos get
-- status_name and integer fields.
local function int(v, what)
  assert(math.type(v) == "integer", what .. " is " .. tostring(v) .. " (" .. tostring(math.type(v)) .. ")")
  return v
end

local APP = "sim-agora-app"
local function q(rid, sid, mode)
  local res, err = rec.query_agora{ appid = APP, resourceid = rid, sid = sid, mode = mode }
  assert(res, tostring(err))
  return res
end

-- old style: "status":"5", "sliceStartTime":"...", "isPlayable":"true", "mixedAllUser":"false"
local old = q("sim-resource-old", "sid-oldstyle", "individual")
local sr = old.serverResponse
assert(int(sr.status, "old status") == 5 and int(old.status, "lifted status") == 5)
assert(old.status_name == "in_progress", tostring(old.status_name))
int(sr.sliceStartTime, "old sliceStartTime")
assert(sr.sliceStartTime > 1500000000000, sr.sliceStartTime)
assert(sr.fileListMode == "json" and type(sr.fileList) == "table" and #sr.fileList >= 1)
for i, f in ipairs(sr.fileList) do
  assert(f.isPlayable == true, "isPlayable " .. tostring(f.isPlayable))
  assert(type(f.mixedAllUser) == "boolean", "mixedAllUser " .. tostring(f.mixedAllUser))
  int(f.sliceStartTime, "file sliceStartTime")
  assert(type(f.uid) == "string", "uid stays a string: " .. tostring(f.uid))
  assert(type(f.fileName) == "string" and f.fileName:find("%.m3u8$"), tostring(f.fileName))
end
assert(old.resourceId == "sim-resource-old" and old.sid == "sid-oldstyle")
assert(("task " .. old.status) == "task 5")

-- string fileList (mix, fileListMode "string") stays a string
local healthy = q("sim-resource-healthy", "sid-healthy", "mix")
assert(healthy.serverResponse.fileListMode == "string")
assert(type(healthy.serverResponse.fileList) == "string", type(healthy.serverResponse.fileList))
assert(healthy.serverResponse.fileList:find("%.m3u8$"))
assert(int(healthy.status, "healthy status") == 5 and healthy.status_name == "in_progress")

-- json fileList: an array of tables with booleans
local abn = q("sim-resource-abnormal", "sid-abnormal", "mix")
assert(type(abn.serverResponse.fileList) == "table" and abn.serverResponse.fileList[1])
assert(type(abn.serverResponse.fileList[1].isPlayable) == "boolean")
int(abn.status, "abnormal status")
assert(rec.agora.status[abn.status] == abn.status_name, abn.status_name)

-- web mode: extensionServiceState passed through, payload normalised
local web = q("sim-resource-web", "sid-web", "web")
local ess = web.serverResponse.extensionServiceState
assert(type(ess) == "table" and #ess >= 1, "extensionServiceState missing")
assert(ess[1].serviceName == "web_recorder_service", tostring(ess[1].serviceName))
assert(type(ess[1].payload) == "table" and ess[1].payload.state == "inProgress", tostring(ess[1].payload.state))
assert(ess[1].payload.onhold == false)
assert(int(web.status, "web status") == 4 and web.status_name == "all_started")
assert(web.serverResponse.fileList == nil)

-- QingCloud: integers, status_name, the documented fields
local res, err = rec.query_qingcloud{ app_id = "demo-app", channel = "healthy-channel" }
assert(res, tostring(err))
assert(res.code == "success")
int(res.offset, "offset"); int(res.limit, "limit"); int(res.total_count, "total_count")
assert(res.total_count == 1 and #res.recinfos == 1, res.total_count)
local t = res.recinfos[1]
for _, k in ipairs{ "id", "pid", "status", "size", "is_mix" } do int(t[k], "recinfo " .. k) end
assert(t.id == 40 and ("task " .. t.id) == "task 40")
assert(t.status_name == rec.qingcloud.status[t.status], tostring(t.status_name))
assert(t.app_id == "demo-app" and t.channel == "healthy-channel")
assert(type(t.created) == "string" and t.created:find("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$"), t.created)

-- an empty page is an empty table, not nil
res, err = rec.query_qingcloud{ app_id = "demo-app", channel = "no-such-channel" }
assert(res, tostring(err))
assert(type(res.recinfos) == "table" and #res.recinfos == 0 and res.total_count == 0)

-- results survive a JSON round trip as integers (rec.json.encode writes 39, not 39.0)
assert(rec.json.encode({ id = t.id }) == '{"id":40}', rec.json.encode({ id = t.id }))
print("provider_normalise ok")
