-- Stable alert ids: the id of an alert raised in a watcher callback comes from the provider's
-- facts, not from the state file. Two watchers on two separate stores (two processes, or one
-- process after a lost state file) raising the same failure give the same id, even when one
-- of them saw the status before and the other did not; the same task failing again later (a
-- new provider time) gets a new id; out:alert{ key = } is stable outside a watcher; without
-- a key, ids stay unique.
local watch = require "rec.watch"
local notify = require "rec.notify"
local store = require "rec.store"

local tmp = {}
local function fresh()   -- a state file of its own (store.open() is the process's one store)
  tmp[#tmp + 1] = os.tmpname()
  return store.open(tmp[#tmp])
end

local function main()
  local phase = {}   -- per store name: list of tasks the query returns
  rec.query_qingcloud = function(q) return { recinfos = phase[q.channel], total_count = #phase[q.channel] } end
  local function run(channel_alias, db, steps)
    local got = {}
    local sink = notify.log{ name = "t" }
    sink._send = function(_, a) got[#got + 1] = a return true end
    local out = notify.outbox{ to = sink, db = db, every = 0.05 }
    local h = watch.qingcloud{ app_id = "app", channel = channel_alias, every = 0.05, db = db,
      on_failed = function(t, old) out:alert{ text = ("task %d failed (%s)"):format(t.id, tostring(old)), task_id = t.id } end }
    for _, s in ipairs(steps) do
      phase[channel_alias] = s
      rec.sleep(0.3)
    end
    assert(out:flush(3))
    h:stop() h:wait() out:stop()
    return got
  end
  -- the watcher's key includes the channel: the same channel on two stores, one after another
  local A = run("room", fresh(), {
    { { id = 39, status = 20, updated = "2026-12-01 10:00:00" } },
    { { id = 39, status = 52, updated = "2026-12-01 10:05:00" } } })
  local B = run("room", fresh(), {   -- starts late: sees 52 without the 20 before it
    { { id = 39, status = 52, updated = "2026-12-01 10:05:00" } } })
  assert(#A == 1 and #B == 1, ("one alert each: %d, %d"):format(#A, #B))
  assert(A[1].alert_id == B[1].alert_id, "same failure, same id: " .. A[1].alert_id .. " vs " .. B[1].alert_id)
  assert(A[1].alert_id:match("^qingcloud/app/room/39/52@%x+%.1$"), A[1].alert_id)
  -- the same task failing again (recovered in between, a new provider time): a new id
  local C = run("room", fresh(), {
    { { id = 39, status = 52, updated = "2026-12-01 10:05:00" } },
    { { id = 39, status = 20, updated = "2026-12-01 11:00:00" } },
    { { id = 39, status = 52, updated = "2026-12-01 11:30:00" } } })
  assert(#C == 2, "two failures: " .. #C)
  assert(C[1].alert_id == A[1].alert_id, "the first episode has the first id")
  assert(C[2].alert_id ~= C[1].alert_id, "a second failure never shares the first one's id")

  -- outside a watcher: a key is the id; without one, every alert is new
  local db = fresh()
  local out = notify.outbox{ to = notify.log{ name = "l" }, db = db, start = false }
  local k1 = out:alert{ key = "nightly-report", text = "x" }
  local k2 = notify.outbox{ to = notify.log{ name = "l" }, db = fresh(), start = false }:alert{ key = "nightly-report", text = "x" }
  assert(k1 == "nightly-report" and k1 == k2, tostring(k1) .. " " .. tostring(k2))
  assert(out:alert("a") ~= out:alert("a"), "no key: two ids")
  assert(not pcall(out.alert, out, { key = {} }), "a table key is refused")
  for _, p in ipairs(tmp) do os.remove(p) os.remove(p .. "-wal") os.remove(p .. "-shm") end
  print("alert_ids_stable ok")
end
local ok, err = xpcall(main, debug.traceback)
if not ok then rec.log.error("%s", err) rec.exit(1) end
