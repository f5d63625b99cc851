-- A failed assert in a rec.every tick: each tick is a task that fails.
local n = 0
local ev = rec.every(1, function() n = n + 1; assert(n > 1, "a bug in the first tick") end)
rec.sleep(3.5)
ev:stop()
print("main task done")
