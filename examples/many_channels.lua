-- many_channels.lua: watch many QingCloud RTC channels at once with one watcher, keep a live
-- count of tasks per status, and alert on every failed task in any channel.
--
-- Shows: watch.qingcloud{channels = {...}} (one polling loop per channel, spread over the
-- interval, every page of 100 read; the provider's rate limit paces the requests), a shared
-- on_change handler, and a periodic summary with rec.every.
--
-- Run it on the simulator (demo-channel's task 39 fails at t=10 s; room-1..room-N are empty):
--   recwatch run --sim examples/many_channels.lua
--   recwatch run --sim examples/many_channels.lua --rooms 200 --every 5
-- Options: --app-id demo-app --channels a,b,c (default: demo-channel, healthy-channel and
--          --rooms N generated names room-1..room-N, default 20) --every 2 --for 15
--          --webhook URL --kind webhook|dingtalk|wecom|feishu|slack --secret S
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  app_id = os.getenv("QINGCLOUD_APP_ID") or "demo-app",
  channels = "demo-channel,healthy-channel", rooms = 20,
  every = 2, ["for"] = 15, retry_base = 1,
  webhook = false, kind = false, secret = false,  -- flags without a default
})

local channels = {}
for c in opt.channels:gmatch("[^,%s]+") do channels[#channels + 1] = c end
for i = 1, opt.rooms do channels[#channels + 1] = "room-" .. i end

local out = notify.outbox{
  to = notify.from_env{ url = opt.webhook, kind = opt.kind, secret = opt.secret },
  every = 0.5, retry_base = opt.retry_base,
}

local current = {}          -- "channel/id" -> status
local w = watch.qingcloud{
  app_id = opt.app_id, channels = channels, every = opt.every,
  on_change = function(task)
    current[task.channel .. "/" .. task.id] = task.status
  end,
  -- 32, 50..53; or 30 (crashed) with no repair outcome within repair_timeout (600 s)
  on_failed = function(task)
    out:alert{ text = ("QingCloud task %d in channel %s failed: %d %s%s"):format(
                 task.id, task.channel, task.status, task.status_name or "?",
                 task.repair_timed_out and " (no repair outcome)" or ""),
               task_id = task.id, channel = task.channel, status = task.status }
  end,
  on_error = function(err, channel) rec.log.warn("channel %s: %s", channel, tostring(err)) end,
}

local summary = rec.every(5, function()
  local by = {}
  local n = 0
  for _, s in pairs(current) do by[s] = (by[s] or 0) + 1 ; n = n + 1 end
  local parts = {}
  for s, k in pairs(by) do parts[#parts + 1] = ("%s=%d"):format(rec.qingcloud.status[s] or s, k) end
  table.sort(parts)
  rec.log.info("%d channels, %d tasks: %s", #channels, n, table.concat(parts, " "))
end)

if opt["for"] > 0 then
  rec.sleep(opt["for"])
  summary:stop()
  w:stop()
  w:wait()
  out:flush(10)
  out:stop()
end
