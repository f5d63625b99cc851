-- For tests/sh/watch_store_lock.sh: one Agora recording that records (5) from 1 s and exits
-- abnormally (20) at 5 s, while another process holds the state file locked; it keeps
-- answering 20 for a minute.
return {
  agora = { linger = 60, rate_limit = 0 },
  agora_recordings = {
    { appid = "lock-app", resourceid = "lock-rid", sid = "lock-sid", mode = "mix",
      timeline = { {0, 1}, {0.5, 4}, {1, 5}, {5, 20} } },
  },
}
