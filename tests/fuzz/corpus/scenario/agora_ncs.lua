return {
  agora_recordings = { { appid = "a", resourceid = "r", sid = "s", timeline = { {0, 4}, {5, 20} } } },
  agora_ncs = { url = "/_sim/webhook", secret = "s3cret", retry_delays = { 1, 2, 3 },
                events = { { sid = "s", at = 3, type = 12, details = { newUid = 7, l = { 1, { x = true } } } },
                           { sid = "s", at = 4, type = 1, details = { x = 2 } } } },
  faults = { { provider = "ncs", kind = "duplicate", nth = 2 } },
}
