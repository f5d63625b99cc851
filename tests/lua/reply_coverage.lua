-- Every reply part of the two seeds through the bindings, on tests/scenarios/reply_coverage.lua:
-- QingCloud created_ts/updated_ts in the configured zone; Agora top-level code,
-- subServiceStatus, aliyun_vod_service videoInfo, rtmp_publish_service outputs, web fileList
-- entries, old-style strings coerced; arrays stay arrays in rec.json.encode.
local function ok(res, err) assert(res, tostring(err)) return res end
local enc = rec.json.encode

-- QingCloud: created "2021-11-18 14:56:43" is UTC+8 by default
local q = ok(rec.query_qingcloud{ app_id = "cov-app", channel = "cov-ch" })
local t = q.recinfos[1]
assert(t.id == 39 and t.status == 52 and t.status_name == "PushToQingstorFailed")
assert(t.created_ts == 1637218603, t.created_ts)
assert(math.type(t.created_ts) == "integer" and t.updated_ts == t.created_ts)
rec.configure{ qingcloud = { utc_offset = 0 } }
t = ok(rec.query_qingcloud{ app_id = "cov-app", channel = "cov-ch" }).recinfos[1]
assert(t.created_ts == 1637247403, t.created_ts)
rec.configure{ qingcloud = { utc_offset = 5.5 } }
t = ok(rec.query_qingcloud{ app_id = "cov-app", channel = "cov-ch" }).recinfos[1]
assert(t.created_ts == 1637247403 - 19800, t.created_ts)
assert(not pcall(rec.configure, { qingcloud = { utc_offset = 15 } }))
assert(not pcall(rec.configure, { qingcloud = { utc_offset = 1.1 } }))
assert(not pcall(rec.configure, { agora = { utc_offset = 8 } }))
rec.configure{ qingcloud = { utc_offset = 8 } }
local none = ok(rec.query_qingcloud{ app_id = "cov-app", channel = "nobody" })
assert(enc(none):find('"recinfos":[]', 1, true), enc(none))

-- Agora, mix: code, subServiceStatus, Aliyun VOD
local a = ok(rec.query_agora{ appid = "cov-agora", resourceid = "cov-rid-vod", sid = "cov-vod" })
assert(a.code == 0 and math.type(a.code) == "integer")
assert(a.status == 5 and a.status_name == "in_progress")
local sr = a.serverResponse
assert(sr.subServiceStatus.recordingService == "serviceReady")
local vod = sr.extensionServiceState[1]
assert(vod.serviceName == "aliyun_vod_service" and vod.payload.state == "inProgress")
assert(vod.payload.videoInfo[1].fileName == "cov-vod_cov-ch.m3u8")
assert(vod.payload.videoInfo[1].videoId == "vid-0001")
assert(math.type(sr.sliceStartTime) == "integer" and sr.sliceStartTime > 1e12, "ms")
assert(sr.fileList[1].uid == "0" and sr.fileList[1].mixedAllUser == true)

-- Agora, web: files, CDN push
local w = ok(rec.query_agora{ appid = "cov-agora", resourceid = "cov-rid-web", sid = "cov-web", mode = "web" })
local web, push = w.serverResponse.extensionServiceState[1], w.serverResponse.extensionServiceState[2]
assert(web.serviceName == "web_recorder_service" and web.payload.onhold == false)
assert(#web.payload.fileList == 2 and web.payload.fileList[1].fileName == "cov-web_0.m3u8")
assert(web.payload.fileList[1].sliceStartTime == 1562724971626)
assert(math.type(web.payload.fileList[2].sliceStartTime) == "integer")
assert(push.serviceName == "rtmp_publish_service")
assert(push.payload.outputs[1].rtmpUrl == "rtmp://cdn.example/live/cov")
assert(push.payload.outputs[1].status == "publishing")
assert(enc(w):find("rtmp://cdn.example/live/cov", 1, true))
assert(w.serverResponse.subServiceStatus == nil, "not in web mode")

-- Agora, old style: "0", "5", "true" coerced by the schema
local o = ok(rec.query_agora{ appid = "cov-agora", resourceid = "cov-rid-old", sid = "cov-old", mode = "individual" })
assert(o.code == 0 and o.status == 5 and o.serverResponse.fileList[1].isPlayable == true)
assert(o.serverResponse.subServiceStatus.recordingService == "serviceReady")

-- a 404 from the API for a valid but unknown session: not_found
local r, err = rec.query_agora{ appid = "cov-agora", resourceid = "cov-rid-vod", sid = "cov-vod",
                                mode = "web", retries = 0 }
assert(not r and err.kind == "not_found" and err.status == 404, tostring(err))
print("reply coverage ok")
