-- rec._batch (internal): ties the alerts raised inside a watcher callback to the watcher's
-- state update, so both are committed in one SQLite transaction. A watcher opens a batch for
-- the running coroutine, runs the user's callbacks (which may wait), then commits its new
-- state together with every item the callbacks added. Killed before the commit, nothing of
-- it exists: the restarted watcher sees the same transition and raises the same alerts with
-- the same ids (made from the provider's facts, so another process, or this one after a lost
-- state file, makes them too).
local M = {}
local open = setmetatable({}, { __mode = "k" })

-- Starts a batch for the current coroutine; id_base names the transition, items are
-- functions(db) run inside the transaction. facts (a table of strings and numbers: the
-- provider's facts about what happened) make the ids stable: the same facts give the same
-- ids in any process and with any state file (see stable_base). Without facts the base also
-- carries the state database's epoch (random, made once per database), so a new or lost
-- state file never reuses the ids of alerts a receiver has already seen.
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

-- The id base made of facts: `label@hash`, where hash is 16 hex digits of MD5 over every
-- fact (sorted by name, "name=value" joined by newlines) and label is facts.label (a
-- readable name, e.g. the watcher's key and the status after). Nothing local enters it.
function M.stable_base(facts)
  local names = {}
  for k in pairs(facts) do
    if k ~= "label" then names[#names + 1] = k end
  end
  table.sort(names)
  local parts = {}
  for _, k in ipairs(names) do parts[#parts + 1] = k .. "=" .. tostring(facts[k]) end
  local h = rec.crypto.md5_hex(table.concat(parts, "\n")):sub(1, 16)
  return (facts.label and (tostring(facts.label) .. "@") or "") .. h
end

function M.begin(db, id_base, facts)
  local base = facts and M.stable_base(facts) or (id_base .. "@" .. epoch(db))
  local b = { db = db, id_base = base, n = 0, items = {}, facts = facts }
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
-- unit (a fleet watcher's): the transaction commits under that unit's lease, or is fenced.
function M.commit(b, fn_state, unit)
  local ok, err = b.db:transaction(function(db)
    fn_state(db)
    for _, item in ipairs(b.items) do item(db) end
  end, unit and { unit = unit } or nil)
  if not ok then error(err, 0) end
end

return M
