-- fleet_restart: one recording per story of tests/lua/fleet_restart.lua, each in a channel of
-- its own (a restart records again in that channel). Each exits abnormally (20) at 10 s.
local function fails(rid, sid, channel)
  return { appid = "sim-agora-app", resourceid = rid, sid = sid, mode = "mix", channel = channel,
           timeline = { {0, 4}, {0.5, 5}, {10, 20} } }
end
return {
  agora = { linger = 60, rate_limit = 0 },   -- a 20 answers for a minute, then 404
  agora_recordings = {
    fails("r-held", "sid-held", "class-held"),        -- held all along: restarted, moved in the set
    fails("r-fenced", "sid-fenced", "class-fenced"),  -- the unit moves during the settle: fenced
    fails("r-resume", "sid-resume", "class-resume"),  -- the old owner died between start and save
  },
}
