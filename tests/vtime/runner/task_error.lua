-- A script under test whose tasks fail: arg[1] of them (a number), or its main task ("main").
if arg[1] == "main" then rec.sleep(1) error("a bug in the main task") end
for i = 1, tonumber(arg[1]) do
  rec.spawn(function() rec.sleep(i) assert(false, "a bug in task " .. i) end)
end
rec.sleep(3600)
