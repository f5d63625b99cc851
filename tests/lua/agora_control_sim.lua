-- The Agora control calls (lcontrol_agora.c) against the simulator's control endpoints
-- (sim_control.c), end to end: acquire, start, query, a repeated start ("already started",
-- not a failure), stop with its upload status, a second stop ("already stopped"), and the
-- storage credentials nowhere in an error. Virtual clock.
local cr = { storageConfig = { vendor = 2, region = 3, bucket = "b", accessKey = "AKctlsimXX",
                               secretKey = "SKctlsimYY" },
             recordingConfig = { channelType = 0 } }
local base = { appid = "demo-app", cname = "room-1", uid = "527841" }
local function with(t) local o = {} for k, v in pairs(base) do o[k] = v end for k, v in pairs(t) do o[k] = v end return o end

local a, e = rec.agora.acquire(with{ clientRequest = {} })
assert(a and a.resourceId == "sim-rid-1", tostring(e))
local s, e2 = rec.agora.start(with{ resourceid = a.resourceId, mode = "mix", clientRequest = cr })
assert(s and s.sid == "sim-sid-1", tostring(e2))
rec.sleep(3)
local q, e3 = rec.agora.query{ appid = "demo-app", resourceid = a.resourceId, sid = s.sid, mode = "mix" }
assert(q and q.serverResponse and q.serverResponse.status == 5, "recording after 3 s: " .. tostring(e3))
local s2, e4 = rec.agora.start(with{ resourceid = a.resourceId, mode = "mix", clientRequest = cr })
assert(s2 and s2.outcome == "already_started" and s2.running == true, "a repeated start: " .. tostring(s2 and s2.outcome or e4))
local st, e5 = rec.agora.stop(with{ resourceid = a.resourceId, sid = s.sid, mode = "mix", clientRequest = {} })
assert(st and st.outcome == "ok" and st.serverResponse.uploadingStatus == "uploaded", tostring(e5))
local st2, e6 = rec.agora.stop(with{ resourceid = a.resourceId, sid = s.sid, mode = "mix", clientRequest = {} })
assert(st2 and st2.outcome == "already_stopped" and st2.stopped == true, "a second stop: " .. tostring(st2 and st2.outcome or e6))
-- a start on the used resource id after its session ended is refused, and the refusal names
-- no credential
local s3, e7 = rec.agora.start(with{ resourceid = a.resourceId, mode = "mix", clientRequest = cr })
assert(not s3 and e7, "a start on a used resource id is refused")
assert(not tostring(e7):find("SKctlsimYY") and not tostring(e7):find("AKctlsimXX"), tostring(e7))
print("agora_control_sim ok")
