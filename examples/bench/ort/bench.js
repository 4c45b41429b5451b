#!/usr/bin/env node
// onnxruntime's side of examples/bench: time one ONNX model at one batch size in onnxruntime-node
// and print JSON on stdout.
//
//   node bench.js --model M.onnx --input X.npy --batch 1 [--warmup 20] [--reps 200] [--threads 1] [--check 1]
//   node bench.js --model M.onnx --input X.f32 --shape 360,64 --batch 360 ...
//
// The input is N samples already in the model's input layout: a float32 .npy (little-endian,
// C order), or raw little-endian float32 with --shape (the first dimension is N). Call k feeds the
// samples k*batch .. k*batch+batch-1 (mod N), so batch 1 cycles through the set and batch N feeds
// it all at once; examples/bench feeds its own engine the same way.
//
// Order: load (timed), one check pass over every distinct batch whose outputs are kept for
// comparison (untimed; --check 0 skips it), warm-up calls, timed calls. Each timed call is
// process.hrtime.bigint() around `await session.run(feeds)` alone: tensors are made beforehand,
// so what is measured is what a node user of onnxruntime pays per call, binding overhead included.
//
// Output: {"ort_version", "load_ns", "input_name", "input_shape", "batch", "warmup",
// "latencies_ns": [...], "outputs": [{"name", "type", "dims", "data"}]} where outputs hold the
// check pass's results concatenated along the batch dimension (empty with --check 0) and data is
// the base64 of their little-endian bytes.
'use strict';

const fs = require('fs');

function usage(msg) {
  process.stderr.write(`bench.js: ${msg}\n` +
    'usage: node bench.js --model M.onnx --input X.npy|X.f32 [--shape N,d1,...] --batch B ' +
    '[--warmup W] [--reps R] [--threads T] [--check 0|1]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { warmup: 20, reps: 200, threads: 1, check: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (!k.startsWith('--') || v === undefined) usage(`bad argument ${k}`);
    a[k.slice(2)] = v;
  }
  if (!a.model || !a.input || !a.batch) usage('--model, --input and --batch are required');
  for (const k of ['batch', 'warmup', 'reps', 'threads', 'check']) {
    a[k] = Number(a[k]);
    if (!Number.isInteger(a[k]) || a[k] < 0) usage(`--${k} must be a whole number`);
  }
  if (a.batch < 1) usage('--batch must be at least 1');
  if (a.threads < 1) usage('--threads must be at least 1');
  return a;
}

// readInput returns {shape, data: Float32Array} of a float32 .npy or a raw file with --shape.
function readInput(path, shapeArg) {
  const buf = fs.readFileSync(path);
  let shape, offset = 0;
  if (buf.subarray(0, 6).toString('latin1') === '\x93NUMPY') {
    const major = buf[6];
    const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
    offset = (major === 1 ? 10 : 12) + hlen;
    const header = buf.subarray(major === 1 ? 10 : 12, offset).toString('latin1');
    const descr = /'descr':\s*'([^']*)'/.exec(header);
    const order = /'fortran_order':\s*(True|False)/.exec(header);
    const dims = /'shape':\s*\(([^)]*)\)/.exec(header);
    if (!descr || !order || !dims) throw new Error(`${path}: cannot read the .npy header ${header}`);
    if (descr[1] !== '<f4') throw new Error(`${path}: holds ${descr[1]}, want little-endian float32 (<f4)`);
    if (order[1] === 'True') throw new Error(`${path}: Fortran order is not supported; save it in C order`);
    shape = dims[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  } else {
    if (!shapeArg) throw new Error(`${path} is not a .npy file: give its shape with --shape N,d1,...`);
    shape = shapeArg.split(',').map(Number);
  }
  const n = shape.reduce((p, d) => p * d, 1);
  if (buf.length - offset !== 4 * n) {
    throw new Error(`${path}: ${buf.length - offset} data bytes for shape [${shape}], want ${4 * n}`);
  }
  // Copy into an aligned buffer (the .npy header leaves the data at any offset).
  const data = new Float32Array(n);
  Buffer.from(data.buffer).set(buf.subarray(offset));
  return { shape, data };
}

function rawBytes(t) {
  const d = t.data;
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  // string or other non-numeric outputs: keep their JSON text.
  return Buffer.from(JSON.stringify(d));
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = require('onnxruntime-node');
  const input = readInput(a.input, a.shape);
  const n = input.shape[0];
  const sampleShape = input.shape.slice(1);
  const sampleLen = sampleShape.reduce((p, d) => p * d, 1);

  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const loadNs = process.hrtime.bigint() - t0;
  if (session.inputNames.length !== 1) {
    throw new Error(`${a.model} has ${session.inputNames.length} inputs (${session.inputNames}); the benchmark feeds one`);
  }
  const inputName = session.inputNames[0];

  // Distinct batches: ceil(N / batch) of them, wrapping around the set.
  const feeds = [];
  for (let k = 0; k * a.batch < n; k++) {
    const x = new Float32Array(a.batch * sampleLen);
    for (let j = 0; j < a.batch; j++) {
      const s = (k * a.batch + j) % n;
      x.set(input.data.subarray(s * sampleLen, (s + 1) * sampleLen), j * sampleLen);
    }
    feeds.push({ [inputName]: new ort.Tensor('float32', x, [a.batch, ...sampleShape]) });
  }

  // Check pass: every distinct batch once; keep the outputs.
  const kept = {};
  for (const f of a.check ? feeds : []) {
    const out = await session.run(f);
    for (const name of session.outputNames) {
      const t = out[name];
      if (!kept[name]) kept[name] = { name, type: t.type, dims: t.dims.slice(), parts: [] };
      kept[name].parts.push(Buffer.from(rawBytes(t)));
    }
  }
  const outputs = !a.check ? [] : session.outputNames.map((name) => {
    const k = kept[name];
    const dims = k.dims.slice();
    if (dims.length > 0) dims[0] *= feeds.length;
    return { name, type: k.type, dims, data: Buffer.concat(k.parts).toString('base64') };
  });

  let call = 0;
  for (let i = 0; i < a.warmup; i++) {
    await session.run(feeds[call++ % feeds.length]);
  }
  const lat = new Array(a.reps);
  const cpu = new Array(a.reps);
  for (let i = 0; i < a.reps; i++) {
    const f = feeds[call++ % feeds.length];
    const c = process.cpuUsage();
    const s = process.hrtime.bigint();
    await session.run(f);
    lat[i] = Number(process.hrtime.bigint() - s);
    const d = process.cpuUsage(c);
    cpu[i] = d.user + d.system;
  }
  await session.release();

  process.stdout.write(JSON.stringify({
    ort_version: ort.env.versions ? ort.env.versions.node : '',
    load_ns: Number(loadNs),
    input_name: inputName,
    input_shape: [a.batch, ...sampleShape],
    batch: a.batch,
    warmup: a.warmup,
    latencies_ns: lat,
    cpu_us: cpu,
    outputs,
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
