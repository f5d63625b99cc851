-- A task fails, then the script ends the process with os.exit(0).
rec.spawn(function() error("a bug in a task") end)
rec.sleep(1)
os.exit(0, true)
