-- A failed assert in a task other than the main one: only a "task failed" line.
local t = rec.spawn(function() rec.sleep(1); assert(1 == 2, "a bug in a task") end)
rec.sleep(3)
print("main task done")
