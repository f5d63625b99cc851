-- fleet_restart: one recording per story of tests/lua/fleet_restart.lua, each in a channel of
-- its own (a restart records again in that channel). Each exits abnormally (20) at 10 s,
-- cust-b's at 150 s.
local function fails(rid, sid, channel)
  return { appid = "sim-agora-app", resourceid = rid, sid = sid, mode = "mix", channel = channel,
           timeline = { {0, 4}, {0.5, 5}, {10, 20} } }
end
return {
  -- a 20 answers for a minute, then 404; a second account (cust-b) for the circuit's story
  agora = { linger = 60, rate_limit = 0,
            customers = { { customer_id = "cust-b", customer_secret = "cust-b-secret-000111", rate_limit = 0 } } },
  agora_recordings = {
    fails("r-held", "sid-held", "class-held"),        -- held all along: restarted, moved in the set
    fails("r-fenced", "sid-fenced", "class-fenced"),  -- the unit moves during the settle: fenced
    fails("r-resume", "sid-resume", "class-resume"),  -- the old owner died between start and save
    -- cust-b's recording fails later (its story runs last): its account's circuit opens
    { appid = "sim-agora-app", resourceid = "r-cb", sid = "sid-cb", mode = "mix", channel = "class-cb",
      timeline = { {0, 4}, {0.5, 5}, {150, 20} } },
  },
}
