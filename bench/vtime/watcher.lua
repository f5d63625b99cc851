-- bench/vtime: the production set-up the benchmark drives: 20 QingCloud channels every 30 s,
-- 5 Agora recordings every 120 s, failures alerted through the durable outbox.
local watch, notify = require "rec.watch", require "rec.notify"
local out = notify.outbox{ to = notify.from_env{}, every = 5 }
local channels = {}
for i = 1, 20 do channels[i] = "ch-" .. i end
watch.qingcloud{
  app_id = "bench-app", channels = channels, every = 30,
  on_status = { [52] = function(task)
    out:alert{ text = ("task %d on %s failed: 52"):format(task.id, task.channel),
               task_id = task.id, channel = task.channel }
  end },
}
for k = 1, 5 do
  watch.agora{
    appid = "bench-agora", resourceid = "rid-" .. k, sid = "sid-" .. k, mode = "mix", every = 120,
    on_change = function(res) if rec.agora.failed[res.status] then out:alert{ text = "agora " .. k } end end,
  }
end
