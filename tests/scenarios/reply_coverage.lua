-- reply_coverage: every reply part the two seeds document, played by the simulator
-- (tests/lua/reply_coverage.lua and tests/unit/test_sim_schema.c check them field by field).
return {
  qingcloud_tasks = {
    { app_id = "cov-app", channel = "cov-ch", id = 39, project_id = "PHbrnM2Ff", pid = 15045,
      host = "rtc-rec-gw-sim-1", size = 1048576, is_mix = 1, url_prefix = "", files = "",
      rec_bucket = "sim-video-records", rec_zone = "pek3b", rec_path = "CloudRecordMedia/",
      created = "2021-11-18 14:56:43", timeline = { { 0, 52 } } },
  },
  agora_recordings = {
    -- mix, JSON file list, top-level code, subServiceStatus, Aliyun VOD upload
    { appid = "cov-agora", resourceid = "cov-rid-vod", sid = "cov-vod", mode = "mix",
      fileListMode = "json", channel = "cov-ch", code = 0, subServiceStatus = "serviceReady",
      aliyun_vod = { state = "inProgress",
                     videoInfo = { { fileName = "cov-vod_cov-ch.m3u8", videoId = "vid-0001" } } },
      timeline = { { 0, 5 } } },
    -- web page recording with files, pushed to a CDN
    { appid = "cov-agora", resourceid = "cov-rid-web", sid = "cov-web", mode = "web",
      files = { { fileName = "cov-web_0.m3u8", sliceStartTime = 1562724971626 },
                { fileName = "cov-web_1.mp4" } },
      rtmp_publish = { outputs = { { rtmpUrl = "rtmp://cdn.example/live/cov", status = "publishing" } } },
      timeline = { { 0, 4 } } },
    -- the same in the old style: numbers and booleans as strings
    { appid = "cov-agora", resourceid = "cov-rid-old", sid = "cov-old", mode = "individual",
      old_style = true, code = 0, subServiceStatus = "serviceReady",
      timeline = { { 0, 5 } } },
  },
}
