-- qingcloud_restart.lua: bring back a QingCloud RTC recording whose recorder crashed and
-- was not repaired (status 30 RecordProcessCored, then 32 ...RepairFailed, or 30 with no
-- repair outcome within --repair-timeout), by starting a new task on the same channel,
-- but only when the channel is still wanted and nothing records it already.
--
-- Shows: watch.qingcloud's on_failed, rec.qingcloud.query and rec.qingcloud.start (signed,
-- paced, typed errors), a guard the script gives (still_wanted), a per-channel budget, and
-- an alert through the outbox for every crash, restarted or not.
--
-- There is NO automatic restart unless --restart is given: every start is billed, and only
-- the script knows whether a class or meeting is still on. Without it a crash is alerted.
-- Not failures, so never restarted: 31 (a repaired crash), 4/5 then 8 PushingToQingstor for
-- a long time (uploads lag 10 to 30 minutes after a stop), 10 Stopped (the service also
-- stops by itself after 6 minutes with nobody in the channel). Other failures (50..53: the
-- media could not be merged or uploaded) are alerted but not restarted: a new recorder
-- would not bring those files back.
--
-- Run it on the simulator:
--   QINGCLOUD_SIGN_KEY=... recwatch run --sim examples/qingcloud_restart.lua --restart \
--     --channels demo-channel --wanted demo-channel --project-id demo-project
-- Options: --app-id demo-app --project-id P --channels a,b --every 5 --repair-timeout 600
--          --restart (off by default) --wanted a,b (the channels still on; default: all of
--          --channels) --max-restarts 3 (per channel per hour) --for 0 (run until SIGTERM)
-- The project key comes from QINGCLOUD_SIGN_KEY (a secret: never logged, never in an alert).
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  app_id = os.getenv("QINGCLOUD_APP_ID") or "demo-app", project_id = "demo-project",
  channels = "demo-channel", every = 5, repair_timeout = 600, ["for"] = 0,
  restart = false, wanted = false, max_restarts = 3,
})
local SIGN_KEY = os.getenv("QINGCLOUD_SIGN_KEY")
local max_restarts = tonumber(opt.max_restarts)

local function list(s)
  local t = {}
  for c in tostring(s):gmatch("[^,%s]+") do t[#t + 1] = c end
  return t
end
local channels = list(opt.channels)

-- The guard: is this channel still wanted? Here a list given on the command line; a real
-- script asks its own schedule (a class timetable, a meeting service) instead.
local wanted = {}
for _, c in ipairs(opt.wanted and list(opt.wanted) or channels) do wanted[c] = true end
local function still_wanted(channel) return wanted[channel] == true end

local out = notify.outbox{ to = notify.from_env{}, every = 0.5 }
local restarts = {}  -- channel -> start times (virtual or real seconds) within the last hour

local function budget_left(channel)
  local kept, now = {}, rec.now()
  for _, t in ipairs(restarts[channel] or {}) do if now - t < 3600 then kept[#kept + 1] = t end end
  restarts[channel] = kept
  return #kept < max_restarts
end

-- A task that records the channel now (1 Start, 2 Recording): then nothing is started.
local function recording_now(channel)
  local q, err = rec.qingcloud.query{ app_id = opt.app_id, channel = channel, from_hour = 1 }
  if not q then return nil, err end
  for _, t in ipairs(q.recinfos) do
    if t.status == 1 or t.status == 2 then return t end
  end
  return false
end

-- What to do after a crash: a decision and the words for the alert.
local function restart(task)
  local ch = task.channel
  if not opt.restart then return "automatic restart is off (--restart)" end
  if not still_wanted(ch) then return "not restarted: the channel is no longer wanted" end
  if not budget_left(ch) then
    return ("not restarted: %d restarts in the last hour already"):format(max_restarts)
  end
  local busy, qerr = recording_now(ch)
  if busy == nil then return "not restarted: the channel could not be listed: " .. qerr.message end
  if busy then return ("not restarted: task %d already records the channel"):format(busy.id) end
  if not SIGN_KEY then return "not restarted: QINGCLOUD_SIGN_KEY is not set" end
  table.insert(restarts[ch], rec.now())
  local s, err = rec.qingcloud.start{ app_id = opt.app_id, project_id = opt.project_id,
                                      channel = ch, sign_key = SIGN_KEY }
  if not s then return "restart failed: " .. err.message end
  return ("restarted as task %d"):format(s.task_id), s.task_id
end

local function on_failed(task, old)
  local crashed = task.status == 32 or (task.status == 30 and task.repair_timed_out)
  local what, new_task
  if crashed then what, new_task = restart(task)
  else what = "not a crash: not restarted" end
  rec.log.info("task %d on %s failed (%d): %s", task.id, task.channel, task.status, what)
  out:alert{ text = ("QingCloud recording task %d on %s/%s failed: %d %s; %s"):format(
               task.id, opt.app_id, task.channel, task.status, task.status_name or "?", what),
             task_id = task.id, channel = task.channel, status = task.status,
             restarted_as = new_task }
end

local w = watch.qingcloud{
  app_id = opt.app_id, channels = channels, every = opt.every,
  repair_timeout = opt.repair_timeout, on_failed = on_failed,
  on_change = function(task, old)
    rec.log.info("task %d on %s: %s -> %s", task.id, task.channel or "?",
                 old and rec.qingcloud.status[old] or "new", task.status_name or task.status)
  end,
  on_error = function(err) rec.log.warn("query failed: %s", tostring(err)) end,
}

if tonumber(opt["for"]) > 0 then
  rec.sleep(tonumber(opt["for"]))
  w:stop()
  w:wait()
  out:flush(10)
  out:stop()
end
