-- Bench scenario for `recwatch sim`: one unlimited customer (poll storm, many watchers,
-- start-up) and one rate-limited customer (rate limit workload), 16 Agora recordings
-- (sid-0 .. sid-15, mode mix, fileListMode json), all "in progress" (status 5) for ever.
-- BENCH_RATE (env) sets the limited customer's requests per second (default 100).
local rate = tonumber(os.getenv("BENCH_RATE") or "100")
local recs = {}
for i = 0, 15 do
  recs[#recs + 1] = { appid = "bench-app", resourceid = "res-" .. i, sid = "sid-" .. i,
                      mode = "mix", fileListMode = "json", channel = "ch" .. i,
                      timeline = { { 0, 5 } } }
end
return {
  agora = {
    customer_id = "bench", customer_secret = "bench-secret", rate_limit = 0,
    customers = { { customer_id = "limited", customer_secret = "limited-secret", rate_limit = rate } },
  },
  agora_recordings = recs,
}
