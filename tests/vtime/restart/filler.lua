-- A helper for restart_storm_test.lua: starts one recording in channel "busy" (uid 5) and
-- keeps it, so the App ID sits at the simulator's concurrency limit.
local acq = assert(rec.agora.acquire{ appid = "sim-agora-app", cname = "busy", uid = "5" })
assert(rec.agora.start{ appid = "sim-agora-app", cname = "busy", uid = "5", resourceid = acq.resourceId,
  mode = "mix", clientRequest = { storageConfig = { vendor = 1, region = 0, bucket = "b",
  accessKey = "k", secretKey = "s" }, recordingConfig = { channelType = 0, maxIdleTime = 3000 } } })
rec.log.info("FILLER STARTED")
