-- QingCloud story for the kill -9 / restart test: three failures spread over time so that one
-- happens before the kill, one while the engine is down, and one after the restart.
-- demo-channel: 39 -> 52 at 2 s, 41 -> 32 at 7 s, 42 -> 53 at 11 s; 40 healthy.
return {
  qingcloud_tasks = {
    { app_id = "demo-app", channel = "demo-channel", id = 39,
      timeline = { {0, 1}, {1, 2}, {2, 52} } },
    { app_id = "demo-app", channel = "demo-channel", id = 41,
      timeline = { {0, 1}, {1, 2}, {7, 32} } },  -- 32 RecordProcessCoredRepairFailed (30 alone is no failure)
    { app_id = "demo-app", channel = "demo-channel", id = 42,
      timeline = { {0, 1}, {1, 2}, {11, 53} } },
    { app_id = "demo-app", channel = "healthy-channel", id = 40,
      timeline = { {0, 2} } },
  },
}
