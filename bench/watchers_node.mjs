// Many watchers (Node.js contender): W async loops, each polling one Agora recording every I
// seconds for D seconds with fetch; starts staggered evenly over the first interval.
// usage: node bench/watchers_node.mjs W I D   (AGORA_* from env)
import { setTimeout as sleep } from 'node:timers/promises';
const W = Number(process.argv[2] ?? 10000), I = Number(process.argv[3] ?? 10), D = Number(process.argv[4] ?? 60);
const base = process.env.AGORA_API_BASE;
const auth = 'Basic ' + Buffer.from(`${process.env.AGORA_CUSTOMER_ID}:${process.env.AGORA_CUSTOMER_SECRET}`).toString('base64');
const headers = { Authorization: auth, Accept: 'application/json' };
let ok = 0, st5 = 0, errs = 0;
const now = () => performance.now() / 1000;
const t0 = now();
async function watcher(k) {
  const i = k % 16;
  const url = `${base}/v1/apps/bench-app/cloud_recording/resourceid/res-${i}/sid/sid-${i}/mode/mix/query`;
  for (let j = 0; j < Math.ceil(D / I); j++) {  // a whole number of polls, no float drift
    const d = t0 + I * k / W + j * I - now();
    if (d > 0) await sleep(d * 1000);
    try {
      const r = await fetch(url, { headers });
      const body = await r.json();
      if (r.status === 200) { ok++; if (body.serverResponse?.status === 5) st5++; } else errs++;
    } catch (e) { errs++; }
  }
}
await Promise.all(Array.from({ length: W }, (_, k) => watcher(k)));
console.log(`RESULT contender=node n=${ok + errs} ok=${ok} status5=${st5} errors=${errs} r429=0 wall=${(now() - t0).toFixed(3)}`);
