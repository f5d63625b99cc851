-- Many channels for many_channels.lua: ch-1 .. ch-12 in demo-app, each with two tasks; the
-- task of ch-3 fails with 52 at 1.5 s and the one of ch-9 with 51 at 2.5 s; ch-12 holds 150
-- tasks (two pages of 100) of which the last one fails with 32 at 2 s.
local tasks = {}
for i = 1, 12 do
  local fail = ({ [3] = 52, [9] = 51 })[i]
  tasks[#tasks + 1] = { app_id = "demo-app", channel = "ch-" .. i, id = 1000 + i,
    timeline = fail and { {0, 2}, {i == 3 and 1.5 or 2.5, fail} } or { {0, 2} } }
  tasks[#tasks + 1] = { app_id = "demo-app", channel = "ch-" .. i, id = 2000 + i, status = 2 }
end
for j = 1, 150 do
  tasks[#tasks + 1] = { app_id = "demo-app", channel = "ch-12", id = 5000 + j,
    timeline = j == 150 and { {0, 2}, {2, 32} } or { {0, 2} } }
end
return { qingcloud_tasks = tasks }
