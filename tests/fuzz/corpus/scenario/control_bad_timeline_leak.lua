return {
  control = { resource_ttl = 300, concurrency = 2, qc_idle_stop = 360, qc_upload_lag = 600,
    channels = { { channel = "c", publish = { {0, 20}, {40, 60} }, timeline = { {o0, 1}, {2, 5}, {9, 20} },
                   uploading = "backuped" }, {blish = {} } } },
  faults = { { provider = "agora", kind = "hold_drop", ms = 100, match = "/start", method = "POST" } },
}
