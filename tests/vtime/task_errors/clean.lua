-- Nothing fails: a caught error is no task error.
local ok = pcall(error, "caught on purpose")
assert(not ok)
local t = rec.spawn(function() rec.sleep(1) return 1 end)
assert(t:wait())
print("main task done")
