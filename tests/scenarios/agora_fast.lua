-- Fast Agora story (same ids as the default scenario, shorter timelines):
-- sid-abnormal records (5) from 0.5 s, exits abnormally (20) at 2 s, 404 from 3 s;
-- sid-vanish records, its worker disappears (404) from 2 s;
-- sid-healthy stays in progress (5); sid-stuck never gets past 2 (starting).
return {
  agora = { linger = 1, rate_limit = 0 },
  agora_recordings = {
    { appid = "sim-agora-app", resourceid = "sim-resource-abnormal", sid = "sid-abnormal",
      mode = "mix", fileListMode = "json", channel = "demo-channel",
      files = { { fileName = "sid-abnormal_demo-channel.m3u8", trackType = "audio_and_video" },
                { fileName = "sid-abnormal_demo-channel_0.mp4", trackType = "audio_and_video" } },
      timeline = { {0, 1}, {0.2, 2}, {0.4, 4}, {0.5, 5}, {2, 20} } },
    { appid = "sim-agora-app", resourceid = "sim-resource-vanish", sid = "sid-vanish",
      mode = "individual", fileListMode = "json", channel = "demo-channel",
      timeline = { {0, 4}, {0.5, 5} }, gone_at = 2 },
    { appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy",
      mode = "mix", fileListMode = "string", channel = "healthy-channel",
      timeline = { {0, 5} } },
    { appid = "sim-agora-app", resourceid = "sim-resource-stuck", sid = "sid-stuck",
      mode = "mix", channel = "stuck-channel", timeline = { {0, 1}, {0.5, 2} } },
  },
}
