-- Resend scenario for tests/sh/provider_resend.sh: every 2nd Agora request is dropped (the
-- connection closed without a reply), as a server closing an idle keep-alive connection
-- just as a request arrives would.
return {
  agora_recordings = { { appid = "rs-app", resourceid = "rs-rid", sid = "rs-sid", mode = "mix",
                         status = 5 } },
  faults = { { provider = "agora", kind = "drop", every = 2 } },
}
