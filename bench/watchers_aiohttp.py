"""Many watchers (Python contender): W asyncio tasks, each polling one Agora recording every
I seconds for D seconds through one aiohttp session; starts staggered over the first interval.
usage: python3 bench/watchers_aiohttp.py W I D   (AGORA_* from env)"""
import asyncio, math, os, sys, time
import aiohttp

W = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
I = float(sys.argv[2]) if len(sys.argv) > 2 else 10
D = float(sys.argv[3]) if len(sys.argv) > 3 else 60
BASE = os.environ["AGORA_API_BASE"]
AUTH = aiohttp.BasicAuth(os.environ["AGORA_CUSTOMER_ID"], os.environ["AGORA_CUSTOMER_SECRET"])
c = {"ok": 0, "st5": 0, "errs": 0}


async def watcher(session, k, t0):
    i = k % 16
    url = f"{BASE}/v1/apps/bench-app/cloud_recording/resourceid/res-{i}/sid/sid-{i}/mode/mix/query"
    for j in range(math.ceil(D / I)):  # a whole number of polls, no float drift
        d = t0 + I * k / W + j * I - time.monotonic()
        if d > 0:
            await asyncio.sleep(d)
        try:
            async with session.get(url, auth=AUTH, headers={"Accept": "application/json"}) as r:
                body = await r.json()
                if r.status == 200:
                    c["ok"] += 1
                    if body.get("serverResponse", {}).get("status") == 5:
                        c["st5"] += 1
                else:
                    c["errs"] += 1
        except Exception:
            c["errs"] += 1


async def main():
    t0 = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        await asyncio.gather(*(watcher(session, k, t0) for k in range(W)))
    n = c["ok"] + c["errs"]
    print(f"RESULT contender=python n={n} ok={c['ok']} status5={c['st5']} errors={c['errs']} "
          f"r429=0 wall={time.monotonic() - t0:.3f}")


asyncio.run(main())
