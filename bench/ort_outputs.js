// Runs ONNX Runtime once, unoptimised, on .npy inputs and writes each output
// as .npy: the oracle for comparing mdlc's run of an imported model, and
// mdlc's own run of a model it exported (onnx/exporter's tests).
//
//   node ort_outputs.js MODEL.onnx OUT_PREFIX NAME=INPUT.npy ...
//
// writes OUT_PREFIX<output name>.npy. bench/run.sh installs onnxruntime-node.
'use strict';
const fs = require('fs');
const ort = require(require('path').join(__dirname, '.work', 'node_modules', 'onnxruntime-node'));
function readNpy(p) {
  const b = fs.readFileSync(p);
  const hl = b.readUInt16LE(8);
  const h = b.slice(10, 10 + hl).toString();
  const shape = JSON.parse('[' + /\(([^)]*)\)/.exec(h)[1].split(',').filter(s => s.trim()).join(',') + ']');
  const descr = /'descr': '([^']*)'/.exec(h)[1];
  const off = 10 + hl;
  const data = b.slice(off);
  if (descr === '<i8') return new ort.Tensor('int64', new BigInt64Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)), shape);
  if (descr === '<i4') return new ort.Tensor('int32', new Int32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)), shape);
  return new ort.Tensor('float32', new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)), shape);
}
function writeNpy(p, t) {
  const h0 = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + t.dims.join(', ') + (t.dims.length === 1 ? ',' : '') + "), }";
  let pad = 16 - ((10 + h0.length + 1) % 16); if (pad === 16) pad = 0;
  const h = h0 + ' '.repeat(pad) + '\n';
  const head = Buffer.alloc(10); head.write('\x93NUMPY', 0, 'latin1'); head[6] = 1; head[7] = 0; head.writeUInt16LE(h.length, 8);
  const d = Float32Array.from(t.data, Number);
  fs.writeFileSync(p, Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(d.buffer)]));
}
(async () => {
  const [model, prefix, ...ins] = process.argv.slice(2);
  const s = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled' });
  const feeds = {};
  for (const a of ins) { const [k, v] = a.split('='); feeds[k] = readNpy(v); }
  const out = await s.run(feeds);
  for (const [k, t] of Object.entries(out)) writeNpy(prefix + k.replace(/[^A-Za-z0-9_]/g, '_') + '.npy', t);
})().catch(e => { console.error(e); process.exit(1); });
