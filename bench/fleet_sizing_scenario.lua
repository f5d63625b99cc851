-- bench/fleet_sizing: BENCH_RECORDINGS (default BENCH_N) Agora recordings (res-1/sid-1 ...), all in progress (5) for ever,
-- spread over BENCH_ACCOUNTS customers (fs-1 ... fs-A, each limited to BENCH_RATE_LIMIT requests
-- a second: 10 as Agora documents per customer); one customer: no limit (BENCH_RATE_LIMIT,
-- default 0), the client's pacer keeping to 1,000/s (bench/fleet_sizing.lua). With a limit of
-- 1,200 the first polls' burst met 429s and the pacer widened to 6% of its rate for minutes.
local n = tonumber(os.getenv("BENCH_RECORDINGS") or os.getenv("BENCH_N") or "1000")
local a = tonumber(os.getenv("BENCH_ACCOUNTS") or "1")
local limit = tonumber(os.getenv("BENCH_RATE_LIMIT") or (a == 1 and "0" or "10"))
local recs = {}
for i = 1, n do
  recs[i] = { appid = "fs-app", resourceid = "res-" .. i, sid = "sid-" .. i, mode = "mix",
              timeline = { { 0, 5 } } }
end
local more = {}
for k = 2, a do more[#more + 1] = { customer_id = "fs-" .. k, customer_secret = "fs-secret-" .. k, rate_limit = limit } end
return {
  agora = { customer_id = "fs-1", customer_secret = "fs-secret-1", rate_limit = limit,
            customers = #more > 0 and more or nil },
  agora_recordings = recs,
}
