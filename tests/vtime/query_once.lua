-- A script for clock_test.lua: one Agora query (sid from arg[1], timeout arg[2]), then
-- logs the outcome with the virtual time it took.
local sid, timeout = arg[1], tonumber(arg[2] or "10")
rec.configure{ agora = { retries = tonumber(arg[3] or "0"), retry_delays = { 2 } } }
local t0 = rec.now()
local res, err = rec.query_agora{ appid = "vt-app", resourceid = "vt-rid", sid = sid, mode = "mix",
                                  timeout = timeout }
rec.log.info("RESULT %s after %.3f s", res and ("status " .. tostring(res.serverResponse and res.serverResponse.status))
             or (err.kind .. " attempts " .. err.attempts), rec.now() - t0)
