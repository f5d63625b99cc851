-- Pagination scenario for tests/sh/provider_paging.sh: 150 QingCloud tasks in one channel
-- (ids 1001..1150, statuses cycling 2 Recording, 10 Stopped, 52 PushToQingstorFailed), 5 in a
-- neighbouring channel, and 3 tasks created 0.5 h, 2.5 h and 5 h ago for the hour window.
local statuses = { 2, 10, 52 }
local tasks = {}
for i = 1, 150 do
  tasks[#tasks + 1] = { app_id = "pg-app", channel = "big", id = 1000 + i,
                        status = statuses[(i - 1) % 3 + 1], size = i * 1024 }
end
for i = 1, 5 do
  tasks[#tasks + 1] = { app_id = "pg-app", channel = "other", id = 2000 + i, status = 2 }
end
local ages = { 0.5, 2.5, 5 }
for i, h in ipairs(ages) do
  tasks[#tasks + 1] = { app_id = "pg-app", channel = "aged", id = 3000 + i,
                        created_at = -h * 3600, timeline = { { 0, 10 } } }
end
return { qingcloud_tasks = tasks }
