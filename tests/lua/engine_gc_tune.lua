-- The collector's pacing (engine.c, tune_gc): once the heap is large, the collector starts a
-- cycle at 120% of what survived the last one instead of 150%, so the garbage on top of a big
-- live set stays small (10,000 watchers: ~31 MB peak instead of ~36); a script that sets the
-- collector itself keeps its own setting.

-- Garbage in small tables, with a resume every 16 rounds (the engine looks at the heap every
-- 1,024 resumes). Returns the highest heap size seen, in KiB.
local function churn(rounds)
  local peak = 0
  for i = 1, rounds do
    local t = {}
    for j = 1, 32 do t[j] = { j } end
    if i % 16 == 0 then rec.sleep(0) end
    local c = collectgarbage("count")
    if c > peak then peak = c end
  end
  return peak
end

local live = {}
for i = 1, 150000 do live[i] = { i, "item " .. i } end
collectgarbage()
collectgarbage()
local base = collectgarbage("count")
assert(base > 13 * 1024, string.format("a large heap to start with: %.0f KiB", base))

churn(20000)  -- > 1,024 resumes: the engine has seen the large heap
local tuned = churn(40000) / base
print(string.format("large heap, engine's pacing: peak %.2fx the live heap", tuned))
assert(tuned < 1.38, string.format("the large heap keeps within 1.38x: %.2fx", tuned))

-- The script's own setting stands, even with the large heap.
collectgarbage("incremental", 200, 100)
collectgarbage()
churn(20000)
local own = churn(40000) / base
print(string.format("large heap, script's pause 200: peak %.2fx the live heap", own))
assert(own > 1.6, string.format("the script's pause 200 is kept: %.2fx", own))
live = nil
print("engine_gc_tune ok")
