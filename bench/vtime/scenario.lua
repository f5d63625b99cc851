-- bench/vtime: 20 QingCloud channels with one recording task each (ch-7's fails with 52
-- PushToQingstorFailed at minute 97), and 5 Agora recordings in progress for ever.
local tasks = {}
for i = 1, 20 do
  local timeline = { {0, 1}, {5, 2} }
  if i == 7 then timeline[#timeline + 1] = { 97 * 60, 52 } end
  tasks[i] = { app_id = "bench-app", channel = "ch-" .. i, id = 1000 + i, timeline = timeline }
end
local recordings = {}
for k = 1, 5 do
  recordings[k] = { appid = "bench-agora", resourceid = "rid-" .. k, sid = "sid-" .. k,
                    mode = "mix", status = 5 }
end
return { qingcloud_tasks = tasks, agora_recordings = recordings }
