-- watch.set{ file = } on the real clock, through the kernel's file events (uv_fs_event): an
-- edit in place and a save by rename are both seen, with no timer reading the file; a bad
-- edit keeps the set and fails /healthz until a good one. Every wait is bounded by a
-- deadline (20 s) and polls for the outcome, so a loaded machine only makes it slower.
-- The file's directory deleted and made again is watched again. Also rec.fs.watch itself: a change wakes :wait, a timeout and a bad path are typed errors.
local watch = require "rec.watch"

local function until_true(what, fn)
  local deadline = rec.now() + 20
  while not fn() do
    assert(rec.now() < deadline, "timed out waiting for " .. what)
    rec.sleep(0.02)
  end
end
local function healthy()
  local st = rec.json.decode(rec.health.status())
  return st.healthy, st.reason or ""
end

local path = os.tmpname()
local function write_in_place(text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
local function save_by_rename(text)
  local f = assert(io.open(path .. ".tmp", "wb"))
  f:write(text)
  f:close()
  assert(os.rename(path .. ".tmp", path))
end

-- rec.fs.watch alone
local r, e = rec.fs.watch("")
assert(r == nil and e.kind == "invalid_argument", tostring(e))
r, e = rec.fs.watch("/nonexistent-dir-recwatch/x.json")
assert(r == nil and e.kind == "not_found", tostring(e))
local fw = assert(rec.fs.watch(path))
local ok, werr = fw:wait(0.05)
assert(ok == nil and werr.kind == "timeout", tostring(werr))
rec.spawn(function() rec.sleep(0.05) write_in_place("x") end)
ok, werr = fw:wait(20)
assert(ok == true, tostring(werr))
assert(fw:info().events >= 1)
fw:close()

write_in_place([=[[{"app_id": "demo-app", "channel": "demo-channel", "every": 1},
                   {"app_id": "demo-app", "channel": "healthy-channel", "every": 1}]]=])
local s = watch.set{ provider = "qingcloud", file = path, name = "real-file", settle = 0.05 }
local function keys() return table.concat(s:keys(), ",") end
until_true("the first read", function() return s:info().good_reads >= 1 end)
assert(keys() == "demo-app/demo-channel,demo-app/healthy-channel", keys())
assert(healthy())

save_by_rename([=[[{"app_id": "demo-app", "channel": "demo-channel", "every": 1}]]=])
until_true("a removal", function() return keys() == "demo-app/demo-channel" end)
until_true("the removed watcher to end", function() return not s:removing("demo-app/healthy-channel") end)

write_in_place("{ not json")
until_true("the bad edit", function() return s:info().errors >= 1 end)
assert(keys() == "demo-app/demo-channel", keys())
local h, why = healthy()
assert(not h and why:find("watch set real-file refused (not_json)", 1, true), why)
assert(rec.metrics.text():find('recwatch_watch_set_errors_total{source="real-file",reason="not_json"} 1', 1, true))

save_by_rename([=[[{"app_id": "demo-app", "channel": "demo-channel", "every": 1},
                   {"app_id": "demo-app", "channel": "healthy-channel", "every": 1}]]=])
until_true("the fix", function() return keys() == "demo-app/demo-channel,demo-app/healthy-channel" end)
until_true("healthy again", function() return (healthy()) end)
s:stop()
s:wait()
os.remove(path)

-- the file's directory deleted, then made again: the dead watch is noticed (not a silence
-- about every later edit) and made again once the directory is back
local dir = os.tmpname()
os.remove(dir)
local function sh(cmd) assert(os.execute(cmd), cmd) end
sh("mkdir " .. dir)
path = dir .. "/sessions.json"
write_in_place([=[[{"app_id": "demo-app", "channel": "demo-channel", "every": 1}]]=])
s = watch.set{ provider = "qingcloud", file = path, name = "dir-file", settle = 0.05, every = 0.2 }
until_true("the first read", function() return keys() == "demo-app/demo-channel" end)
sh("rm -r " .. dir)
until_true("the directory gone", function() return s:info().errors_by_reason.unwatchable end)
assert(keys() == "demo-app/demo-channel", keys())
h, why = healthy()
assert(not h and why:find("dir-file refused (unwatchable)", 1, true), why)
sh("mkdir " .. dir)
write_in_place([=[[{"app_id": "demo-app", "channel": "healthy-channel", "every": 1}]]=])
until_true("the directory back", function() return keys() == "demo-app/healthy-channel" end)
-- and the new watch sees edits again
write_in_place([=[[{"app_id": "demo-app", "channel": "demo-channel", "every": 1}]]=])
until_true("an edit after the re-watch", function() return keys() == "demo-app/demo-channel" end)
until_true("healthy again", function() return (healthy()) end)
s:stop()
s:wait()
sh("rm -r " .. dir)
print("ok")
