-- watch.set on the virtual clock: sessions added and removed at run time (no file, no URL),
-- a removed session's watcher stops polling once its poll in flight has committed, a bad or
-- duplicate entry is refused with a typed error and leaves the set as it was; and a file set
-- driven through the fs watcher's test hook (watcher:_fire), so that virtual time and real
-- file events are not raced: a good edit adds and removes, a bad edit keeps the set and fails
-- /healthz with its reason until a good one.
local watch = require "rec.watch"

local function health()
  local st = rec.json.decode(rec.health.status())
  return st.healthy, st.reason or ""
end

local changes = {}
local s = watch.set{ provider = "agora", name = "rt",
                     defaults = { every = 5, first_after = 1, mode = "mix" },
                     on_change = function(_, d) changes[#changes + 1] = d end }
assert(#s:keys() == 0)
local ok0, e0 = pcall(watch.set, { provider = "agora", name = "rt" })
assert(not ok0 and tostring(e0):find("a set named 'rt' runs already", 1, true), tostring(e0))
ok0, e0 = pcall(watch.set, { provider = "agora", evry = 3 })
assert(not ok0 and tostring(e0):find("unknown option 'evry'", 1, true), tostring(e0))
ok0, e0 = pcall(watch.set, { provider = "zoom" })
assert(not ok0 and tostring(e0):find("provider must be", 1, true), tostring(e0))
assert(not rec.health.status():find('"set/rt"', 1, true), "a run-time set has no health entry")
-- a session the watcher itself refuses (here: through bad defaults) is a typed error too
local bd = watch.set{ provider = "agora", name = "bad-defaults", defaults = { every = "soon" } }
local r0, e1 = bd:add{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" }
assert(r0 == nil and e1.kind == "invalid_argument" and tostring(e1):find("'every' must be a number"), tostring(e1))
assert(#bd:keys() == 0)
bd:stop()
local k1 = assert(s:add{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" })
local k2 = assert(s:add{ appid = "sim-agora-app", resourceid = "sim-resource-stuck", sid = "sid-stuck" })
assert(k1 == "sid-healthy" and k2 == "sid-stuck", k1 .. " " .. k2)
assert(table.concat(s:keys(), ",") == "sid-healthy,sid-stuck")

-- refused at run time: typed errors, the set unchanged
local r, e = s:add{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" }
assert(r == nil and e.kind == "invalid_argument" and tostring(e):find("watched already"), tostring(e))
r, e = s:add{ appid = "sim-agora-app", sid = "sid-x" }
assert(r == nil and e.kind == "invalid_argument" and tostring(e):find("lacks 'resourceid'"), tostring(e))
r, e = s:add{ appid = "sim-agora-app", resourceid = "r", sid = "sid-y", evry = 3 }
assert(r == nil and tostring(e):find("unknown field 'evry'") and tostring(e):find("every"), tostring(e))
r, e = s:add("nope")
assert(r == nil and e.kind == "invalid_argument")
assert(#s:keys() == 2)
assert(s:remove("sid-unknown") == false)

rec.sleep(30)
local h = s:handle("sid-healthy")
local polls = h:info()[1].polls
assert(polls >= 4, "polled " .. polls)

-- removal: gone from the set at once, its watcher ends once its loop is out of a poll
assert(s:remove("sid-healthy") == true)
assert(table.concat(s:keys(), ",") == "sid-stuck")
for _ = 1, 100 do
  if not s:removing("sid-healthy") then break end
  rec.sleep(0.1)
end
assert(not s:removing("sid-healthy"), "still winding down")
local after = h:info()[1].polls
rec.sleep(60)
assert(h:info()[1].polls == after, "a removed session was polled again")
assert(s:handle("sid-stuck"):info()[1].polls > polls, "the other session goes on")

-- added again after its removal: a new watcher
assert(s:add{ appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" })
rec.sleep(20)
assert(s:handle("sid-healthy") ~= h and s:handle("sid-healthy"):info()[1].polls >= 2)
assert(health())
s:stop()
s:wait()

-- a file set, the file events fired by hand (virtual time never waits for the kernel)
local path = os.tmpname()
local function write(text)
  local f = assert(io.open(path .. ".new", "wb"))
  f:write(text)
  f:close()
  assert(os.rename(path .. ".new", path))
end
local function edit(text)
  write(text)
  s.fw:_fire()
  rec.sleep(1)
end
write([[{"sessions": [
  {"app_id": "demo-app", "channel": "demo-channel"},
  {"app_id": "demo-app", "channel": "healthy-channel", "every": 10}]}]])
local errs = {}
s = watch.set{ provider = "qingcloud", file = path, name = "qc-file", defaults = { every = 5 },
               on_error = function(x) errs[#errs + 1] = x.kind end }
rec.sleep(1)
assert(table.concat(s:keys(), ",") == "demo-app/demo-channel,demo-app/healthy-channel", table.concat(s:keys(), ","))
assert(health())

edit([=[[{"app_id": "demo-app", "channel": "demo-channel"}]]=])
assert(table.concat(s:keys(), ",") == "demo-app/demo-channel")

-- a session whose fields change is restarted with them: the old watcher ends first
local old_h = s:handle("demo-app/demo-channel")
edit([=[[{"app_id": "demo-app", "channel": "demo-channel", "every": 7}]]=])
rec.sleep(1)
assert(table.concat(s:keys(), ",") == "demo-app/demo-channel")
local new_h = s:handle("demo-app/demo-channel")
assert(new_h and new_h ~= old_h and old_h.stopped, "not restarted")
assert(rec.metrics.text():find('recwatch_watch_set_sessions{source="qc-file"} 1', 1, true))
edit([=[[{"app_id": "demo-app", "channel": "demo-channel"}]]=])

-- each bad edit: the set kept, /healthz fails naming the set and the reason
local bad = {
  { "not json {", "not_json" },
  { [=[[{"app_id": "demo-app", "channel": "a"}, {"app_id": "demo-app", "channel": "a"}]]=], "duplicate" },
  { "[]", "empty" },
  { [[{"sessions": []}]], "empty" },
  { [[{"sessions": 5}]], "shape" },
  { [[{"sessions": [{"app_id": "demo-app"}]}]], "entry" },
  { [=[[{"app_id": "demo-app", "channel": "c", "every": "soon"}]]=], "entry" },
  { [=[[{"app_id": "demo-app", "channel": "a/b"}]]=], "entry" },
  { [=[["x"]]=], "entry" },
  { "", "not_json" },
}
for i, b in ipairs(bad) do
  edit(b[1])
  assert(s:info().errors == i, i .. ": errors " .. s:info().errors)
  assert(s:info().last_reason == b[2], i .. ": " .. tostring(s:info().last_reason))
  assert(errs[i] == b[2], i .. ": on_error " .. tostring(errs[i]))
  assert(table.concat(s:keys(), ",") == "demo-app/demo-channel", i .. ": the set changed")
  local ok, why = health()
  assert(not ok and why:find("watch set qc-file refused (" .. b[2] .. ")", 1, true), why)
end
local m = rec.metrics.text()
assert(m:find('recwatch_watch_set_errors_total{source="qc-file",reason="not_json"} 2', 1, true), m)
assert(m:find('recwatch_watch_set_sessions{source="qc-file"} 1', 1, true))
-- the watcher went on all along
assert(s:handle("demo-app/demo-channel"):info()[1].polls >= 3)

-- fixed: healthy again; an empty set only when it says so
edit([[{"sessions": [], "empty": true}]])
assert(#s:keys() == 0 and health())
os.remove(path)
s.fw:_fire()
rec.sleep(1)
assert(s:info().last_reason == "missing" and not health())
edit([=[[{"app_id": "demo-app", "channel": "healthy-channel"}]]=])
assert(table.concat(s:keys(), ",") == "demo-app/healthy-channel" and health())
assert(#changes == 0, "on_change of the first set ran for run-time calls")
s:stop()
s:wait()
os.remove(path)
print("ok")
