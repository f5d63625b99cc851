-- watch_agora_memory: 2,000 Agora recordings (mem-1 ... mem-2000), in progress for ever, under
-- a customer without a rate limit.
local recs = {}
for i = 1, 2000 do
  recs[i] = { appid = "mem-app", resourceid = "res-" .. i, sid = "mem-" .. i, mode = "mix", timeline = { { 0, 5 } } }
end
return {
  agora = { customer_id = "mem-customer", customer_secret = "mem-secret-0123456789", rate_limit = 0 },
  agora_recordings = recs,
}
