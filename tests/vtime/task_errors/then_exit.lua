-- A task fails, then the script ends itself with rec.exit(0).
rec.spawn(function() error("a bug in a task") end)
rec.sleep(1)
rec.exit(0)
