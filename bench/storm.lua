-- Poll storm (recwatch contender): C concurrent pollers share N Agora queries; every reply is
-- parsed (rec.query_agora decodes and normalises it) and its status read.
-- usage: recwatch run bench/storm.lua N C [RATE [CONNS]]   (credentials and base URL from
-- AGORA_* env); CONNS: max_connections (default C; "default" keeps recwatch's default, 64)
local N, C = tonumber(arg[1] or "100000"), tonumber(arg[2] or "256")
local rate = tonumber(arg[3] or "0")
local conns = arg[4] == "default" and nil or tonumber(arg[4] or C)
rec.configure{ agora = { rate = rate, retries = 0, timeout = 30 },
               http = { max_connections = conns } }
local next_q, ok, st5, errs, rl = 0, 0, 0, 0, 0
local t0 = rec.now()
local function poller()
  while next_q < N do
    next_q = next_q + 1
    local i = next_q % 16
    local res, err = rec.query_agora{ appid = "bench-app", resourceid = "res-" .. i,
                                      sid = "sid-" .. i, mode = "mix" }
    if res then
      ok = ok + 1
      if res.status == 5 then st5 = st5 + 1 end
    else
      errs = errs + 1
      if err.kind == "rate_limited" or err.status == 429 then rl = rl + 1 end
    end
  end
end
local tasks = {}
for k = 1, C do tasks[k] = rec.spawn(poller) end
for k = 1, C do tasks[k]:wait() end
local wall = rec.now() - t0
-- a 429 is resent inside C and never reaches the script: count the server's answers
local n429 = rec.metrics.text():match(
  'recwatch_provider_requests_total{provider="agora",outcome="rate_limited"} (%d+)')
rl = rl + (tonumber(n429) or 0)
print(string.format("RESULT contender=recwatch n=%d ok=%d status5=%d errors=%d r429=%d wall=%.3f",
                    N, ok, st5, errs, rl, wall))
