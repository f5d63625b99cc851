-- 100,000 tasks come and go without leaking; 10,000 concurrent sleepers all finish.
collectgarbage()
local base = collectgarbage("count")
local done = 0
for round = 1, 10 do
  local ts = {}
  for i = 1, 10000 do ts[i] = rec.spawn(function() done = done + 1 end) end
  for i = 1, 10000 do assert(ts[i]:wait()) end
end
assert(done == 100000, "all ran: " .. done)
collectgarbage()
collectgarbage()
local grown = collectgarbage("count") - base
assert(grown < 2048, string.format("memory after 100k tasks grew by %.0f KiB", grown))

local finished = 0
local ts = {}
for i = 1, 10000 do ts[i] = rec.spawn(function() rec.sleep(1) finished = finished + 1 end) end
for i = 1, 10000 do ts[i]:wait() end
assert(finished == 10000)
print("engine_many_tasks ok")
