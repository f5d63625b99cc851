-- Many watchers (recwatch contender): W tasks, each polling one Agora recording every I
-- seconds for D seconds; starts staggered evenly over the first interval.
-- usage: recwatch run bench/watchers.lua W I D   (AGORA_* from env)
local W, I, D = tonumber(arg[1] or "10000"), tonumber(arg[2] or "10"), tonumber(arg[3] or "60")
rec.configure{ agora = { rate = 0, retries = 0, timeout = 30 } }
local ok, st5, errs = 0, 0, 0
local t0 = rec.now()
local function watcher(k)
  local i = k % 16
  local q = { appid = "bench-app", resourceid = "res-" .. i, sid = "sid-" .. i, mode = "mix" }
  for j = 0, math.ceil(D / I) - 1 do  -- a whole number of polls, no float drift
    local due = t0 + I * k / W + j * I
    local d = due - rec.now()
    if d > 0 then rec.sleep(d) end
    local res, err = rec.query_agora(q)
    if res then
      ok = ok + 1
      if res.status == 5 then st5 = st5 + 1 end
    else
      errs = errs + 1
    end
  end
end
local tasks = {}
for k = 0, W - 1 do tasks[#tasks + 1] = rec.spawn(watcher, k) end
for _, t in ipairs(tasks) do t:wait() end
print(string.format("RESULT contender=recwatch n=%d ok=%d status5=%d errors=%d r429=0 wall=%.3f",
                    ok + errs, ok, st5, errs, rec.now() - t0))
