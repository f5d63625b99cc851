-- A script under test that ends itself with os.exit: from its main task (arg[1] = "main")
-- or from a spawned task ("task"), with the status in arg[2] ("true", "false" or a number).
local how, code = arg[1], arg[2]
if code == "true" then code = true elseif code == "false" then code = false else code = tonumber(code) end
rec.sleep(1)
if how == "task" then
  rec.spawn(function() rec.sleep(1); os.exit(code) end)
  rec.sleep(3600)
  rec.log.error("still running after os.exit")
else
  os.exit(code)
  rec.log.error("still running after os.exit")
end
