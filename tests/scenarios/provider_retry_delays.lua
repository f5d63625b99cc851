-- Scenario for tests/lua/provider_retry_delays.lua: each Agora recording meets one fault,
-- selected by its sid: s answers a 500 page every time, again a 206 code 65 every time,
-- once206 a single 206 then 200, drop closes the connection every time.
local function rec_for(sid) return { appid = "app", resourceid = "r", sid = sid, status = 5 } end
return {
  agora = { rate_limit = 0 },
  agora_recordings = { rec_for("s"), rec_for("again"), rec_for("once206"), rec_for("drop") },
  faults = {
    { provider = "agora", kind = "500_html", match = "/sid/s/" },
    { provider = "agora", kind = "agora_206", match = "/sid/again/" },
    { provider = "agora", kind = "agora_206", match = "/sid/once206/", times = 1 },
    { provider = "agora", kind = "drop", match = "/sid/drop/" },
  },
}
