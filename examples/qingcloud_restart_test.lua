-- Proves what qingcloud_restart.lua's header claims, on a virtual clock:
-- recwatch test examples/qingcloud_restart_test.lua
local T = require "rec.test"
local KEY = "qc-sign-key-SECRET-77"
local ENV = { env = { QINGCLOUD_SIGN_KEY = KEY } }

local function task(id, timeline, channel)
  return { app_id = "demo-app", channel = channel or "class-1", id = id, timeline = timeline }
end
local function starts(t)  -- the simulator's QingCloud start calls: status, billed count
  local got = {}
  for _, r in ipairs(t:requests()) do
    if r.call == "qc_start" then got[#got + 1] = r.status end
  end
  return got
end
local function no_key(t)
  local all = table.concat(t:logs(), "\n")
  for _, r in ipairs(t:requests()) do all = all .. "\n" .. r.path .. "?" .. (r.query or "") end
  for _, h in ipairs(t:webhooks()) do all = all .. "\n" .. (h.text or h.raw or "") end
  t:ok(not all:find(KEY, 1, true), "the sign key appears nowhere")
end
local ARGS = { "--channels", "class-1", "--every", "5", "--restart", "--wanted", "class-1" }

T.case("a crash not repaired (30, then 32) is restarted once, the new task watched", function(t)
  t:scenario{ qingcloud_tasks = { task(71, { {0, 2}, {20, 30}, {80, 32} }) } }
  local p = t:start("qingcloud_restart.lua", ARGS, ENV)
  t:advance(600)
  t:eq(starts(t), { 200 }, "one start, accepted")
  for _, r in ipairs(t:requests()) do  -- within one poll (5 s) and a second of the 32 at 80 s
    if r.call == "qc_start" then t:ok(r.t >= 80 and r.t <= 86, "restarted at " .. r.t) end
  end
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "one alert")
  t:eq(hooks[1].status, 32)
  t:eq(hooks[1].restarted_as, 1001, "the alert names the new task")
  t:ok(hooks[1].text:find("restarted as task 1001", 1, true), hooks[1].text)
  t:eq(#t:logs("task 1001 on class%-1: new %-> Recording"), 1, "the new task is watched")
  no_key(t)
  p:stop()
  t:advance(5)
  t:eq(p:exited(), 0)
end)

T.case("no automatic restart by default: the crash is alerted, nothing is started", function(t)
  t:scenario{ qingcloud_tasks = { task(71, { {0, 2}, {20, 30}, {80, 32} }) } }
  local p = t:start("qingcloud_restart.lua", { "--channels", "class-1" }, ENV)
  t:advance(600)
  t:eq(starts(t), {}, "no start")
  t:eq(#t:webhooks(), 1)
  t:ok(t:webhooks()[1].text:find("automatic restart is off", 1, true), t:webhooks()[1].text)
  p:stop()
end)

T.case("a channel no longer wanted is not restarted", function(t)
  t:scenario{ qingcloud_tasks = { task(71, { {0, 2}, {20, 30}, {80, 32} }) } }
  local p = t:start("qingcloud_restart.lua",
                    { "--channels", "class-1", "--restart", "--wanted", "class-2" }, ENV)
  t:advance(600)
  t:eq(starts(t), {}, "no start")
  t:ok(t:webhooks()[1].text:find("no longer wanted", 1, true), t:webhooks()[1].text)
  p:stop()
end)

T.case("a repaired crash (30, then 31) and a long 8 are no failures: nothing happens", function(t)
  t:scenario{ qingcloud_tasks = {
    task(71, { {0, 2}, {20, 30}, {80, 31}, {81, 2} }),
    task(72, { {0, 2}, {30, 4}, {31, 8}, {31 + 1800, 10} }),  -- 30 minutes uploading
  } }
  local p = t:start("qingcloud_restart.lua", ARGS, ENV)
  t:advance(2400)
  t:eq(starts(t), {}, "no start")
  t:eq(#t:webhooks(), 0, "no alert")
  t:eq(#t:logs("PushingToQingstor %-> Stopped"), 1, "the upload ended after 30 minutes")
  p:stop()
end)

T.case("a channel another task already records is not started twice", function(t)
  t:scenario{ qingcloud_tasks = {
    task(71, { {0, 2}, {20, 30}, {80, 32} }),
    task(73, { {0, 1}, {1, 2} }),  -- a second recorder on the same channel
  } }
  local p = t:start("qingcloud_restart.lua", ARGS, ENV)
  t:advance(600)
  t:eq(starts(t), {}, "no start")
  t:ok(t:webhooks()[1].text:find("task 73 already records", 1, true), t:webhooks()[1].text)
  p:stop()
end)

T.case("the budget: at most --max-restarts per channel per hour, failed starts included", function(t)
  t:scenario{
    qingcloud_tasks = {
      task(71, { {0, 2}, {20, 30}, {40, 32} }),
      task(74, { {150, 2}, {200, 30}, {240, 32} }),  -- listed from 150 s
      task(75, { {3800, 2}, {3900, 30}, {3940, 32} }),
    },
    control = { channels = { { channel = "class-1", publish = {} } } },  -- nobody: starts refused
  }
  local p = t:start("qingcloud_restart.lua", { "--channels", "class-1", "--restart", "--max-restarts", "1" }, ENV)
  t:advance(600)
  t:eq(starts(t), { 400 }, "one start, refused by the service (nobody in the channel), not retried")
  local hooks = t:webhooks()
  t:eq(#hooks, 2)
  t:ok(hooks[1].text:find("restart failed: rec.qingcloud.start: HTTP 400", 1, true), hooks[1].text)
  t:ok(hooks[2].text:find("1 restarts in the last hour already", 1, true), hooks[2].text)
  t:advance(3400)
  t:eq(starts(t), { 400, 400 }, "an hour later the budget allows one again")
  no_key(t)
  p:stop()
end)

T.case("no sign key: nothing is started, the alert says why", function(t)
  t:scenario{ qingcloud_tasks = { task(71, { {0, 2}, {20, 30}, {80, 32} }) } }
  local p = t:start("qingcloud_restart.lua", ARGS)
  t:advance(600)
  t:eq(starts(t), {}, "no start")
  t:ok(t:webhooks()[1].text:find("QINGCLOUD_SIGN_KEY is not set", 1, true), t:webhooks()[1].text)
  p:stop()
end)
