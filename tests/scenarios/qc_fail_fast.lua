-- Fast QingCloud story for workflow tests (same app/channels as the default scenario):
-- demo-channel: task 39 fails with 52 at t=2 s, task 41 fails with 32 (its crash not repaired) at t=3 s, task 43 ends
-- well (10 Stopped) at t=2 s; healthy-channel: task 40 keeps recording.
return {
  qingcloud_tasks = {
    { app_id = "demo-app", channel = "demo-channel", id = 39,
      timeline = { {0, 1}, {0.5, 2}, {1, 3}, {1.5, 8}, {2, 52} } },
    { app_id = "demo-app", channel = "demo-channel", id = 41,
      timeline = { {0, 1}, {1, 2}, {3, 32} } },  -- 32 RecordProcessCoredRepairFailed (30 alone is no failure)
    { app_id = "demo-app", channel = "demo-channel", id = 43,
      timeline = { {0, 2}, {2, 10} } },
    { app_id = "demo-app", channel = "healthy-channel", id = 40,
      timeline = { {0, 1}, {0.5, 2} } },
  },
}
