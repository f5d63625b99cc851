-- rec._batch (internal): ties the alerts raised inside a watcher callback to the watcher's
-- state update, so both are committed in one SQLite transaction. A watcher opens a batch for
-- the running coroutine, runs the user's callbacks (which may wait), then commits its new
-- state together with every item the callbacks added. Killed before the commit, nothing of
-- it exists: the restarted watcher sees the same transition and raises the same alerts with
-- the same ids.
local M = {}
local open = setmetatable({}, { __mode = "k" })

-- Starts a batch for the current coroutine; id_base names the transition (stable across
-- restarts), items are functions(db) run inside the transaction.
-- The id base also carries the state database's epoch (random, made once per database), so a
-- new or lost state file never reuses the ids of alerts a receiver has already seen.
local epochs = setmetatable({}, { __mode = "k" })
local function epoch(db)
  local e = epochs[db] or db:get("rec/epoch")
  if not e then
    e = rec.crypto.md5_hex(("%.6f/%.6f/%d"):format(rec.time(), rec.now(), math.random(1, 1 << 30))):sub(1, 8)
    db:set("rec/epoch", e)
  end
  epochs[db] = e
  return e
end

function M.begin(db, id_base)
  local b = { db = db, id_base = id_base .. "@" .. epoch(db), n = 0, items = {} }
  open[coroutine.running()] = b
  return b
end

function M.current()
  return open[coroutine.running()]
end

function M.finish(b)
  local co = coroutine.running()
  if open[co] == b then open[co] = nil end
  return b
end

-- Commits fn_state(db) and every item of batch b in one transaction; raises on failure.
function M.commit(b, fn_state)
  local ok, err = b.db:transaction(function(db)
    fn_state(db)
    for _, item in ipairs(b.items) do item(db) end
  end)
  if not ok then error(err, 0) end
end

return M
