-- watch.qingcloud over a window that moves between pages: rec.query_qingcloud is replaced by
-- a fake service whose task list changes after every page (new tasks enter at the front,
-- old ones leave). Every task is reported exactly once, none is missed, and the
-- hour window the watcher asks for is the default (none given: the binding sends 24/0).
local watch = require "rec.watch"
local store = require "rec.store"

local list = {}
for i = 1, 250 do list[i] = { id = 1000 + i, status = 2 } end
local calls, entered = 0, 300
local real = rec.query_qingcloud
rec.query_qingcloud = function(p)
  calls = calls + 1
  assert(p.from_hour == nil and p.to_hour == nil, "the watcher passes no hours of its own")
  assert(p.limit == 100)
  local page = {}
  for i = p.offset + 1, math.min(p.offset + p.limit, #list) do page[#page + 1] = list[i] end
  local res = { code = "success", offset = p.offset, limit = p.limit,
                total_count = #list, recinfos = page }
  -- between pages the window moves: on odd calls two new tasks enter at the front (the
  -- rest shift down: seen twice without de-duplication); on even calls three of the oldest
  -- leave and one enters (the rest shift up by two: skipped without overlapping pages)
  if calls % 2 == 1 then
    for _ = 1, 2 do
      entered = entered + 1
      table.insert(list, 1, { id = entered, status = 1 })
    end
  else
    for _ = 1, 3 do
      for i, t in ipairs(list) do
        if t.id > 1000 then table.remove(list, i) break end
      end
    end
    entered = entered + 1
    table.insert(list, 1, { id = entered, status = 1 })
  end
  return res
end

local seen, dup = {}, 0
local w = watch.qingcloud{
  app_id = "fake", channel = "moving", every = 3600, db = store.open(),
  on_change = function(task, old)
    if seen[task.id] then dup = dup + 1 end
    seen[task.id] = true
  end,
}
local deadline = rec.now() + 10
while calls < 3 and rec.now() < deadline do rec.sleep(0.05) end
rec.sleep(0.2)
w:stop()
w:wait()
rec.query_qingcloud = real
assert(dup == 0, "tasks reported twice: " .. dup)
for i = 1, 250 do assert(seen[1000 + i], "task " .. (1000 + i) .. " was missed") end
print("moving window ok", calls)
