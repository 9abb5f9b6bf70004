// Times ONNX Runtime's CPU execution provider on one model, for compare.py:
//
//   node ort.js MODEL.onnx THREADS SECONDS WARMUP '{"input": {"shape": [...], "ids": V}, ...}'
//
// prints {"median_ms": ..., "min_ms": ..., "runs": ...}: warm-up runs, then
// timed runs for SECONDS (at least 5), inputs uniform in [0, 1), or, where
// ids is a vocabulary size, int64 token ids uniform in 1..V-1.
'use strict';
const path = require('path');
const ort = require(path.join(__dirname, '.work', 'node_modules', 'onnxruntime-node'));

async function main() {
  const [model, threads, seconds, warmup, shapes] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = {};
  for (const [name, { shape, ids }] of Object.entries(JSON.parse(shapes))) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (ids) {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) data[i] = BigInt(1 + Math.floor(Math.random() * (ids - 1)));
      feeds[name] = new ort.Tensor('int64', data, shape);
      continue;
    }
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.random();
    feeds[name] = new ort.Tensor('float32', data, shape);
  }
  for (let i = 0; i < Number(warmup); i++) await session.run(feeds);
  const times = [];
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(Number(seconds) * 1e9));
  while (times.length < 5 || process.hrtime.bigint() - start < limit) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const n = times.length;
  const median = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  console.log(JSON.stringify({ median_ms: median, min_ms: times[0], runs: n }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
