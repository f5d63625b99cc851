-- bench/vtime/scale: BENCH_N Agora recordings (res-1/sid-1 ... ), all in progress (5) for
-- ever, under one customer without a rate limit.
local n = tonumber(os.getenv("BENCH_N") or "1000")
local recs = {}
for i = 1, n do
  recs[i] = { appid = "scale-app", resourceid = "res-" .. i, sid = "sid-" .. i, mode = "mix",
              timeline = { { 0, 5 } } }
end
return {
  agora = { customer_id = "scale", customer_secret = "scale-secret", rate_limit = 0 },
  agora_recordings = recs,
}
