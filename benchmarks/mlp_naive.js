// One training step of the MLP essay (essays/03-mlp.md), written the way a naive JavaScript
// notebook does it on the CPU: Float32Array matrices, triple-loop products, explicit loops
// for the lookup, tanh, softmax, cross-entropy and every gradient. The baseline of
// benchmarks/bench_mlp.py, which runs it under node:
//
//   node benchmarks/mlp_naive.js [names.txt] [steps]
//
// and reads one line of JSON from stdout: the time of each step (measured in node with
// performance.now()) and the loss of each batch.
"use strict";

const fs = require("fs");
const path = require("path");

const namesPath = process.argv[2] || path.join(__dirname, "..", "essays", "data", "names.txt");
const steps = Number(process.argv[3] || 20);
const BLOCK = 3;
const EMB = 10;
const HIDDEN = 200;
const BATCH = 64;
const LR = 0.1;

function mulberry32(seed) {
  return function () {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(2147483647);
function normal() {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function matrix(rows, cols, scale) {
  const data = new Float32Array(rows * cols);
  if (scale) for (let i = 0; i < data.length; i++) data[i] = normal() * scale;
  return { rows, cols, data };
}

// out = a · b (a: n×k, b: k×m)
function matmul(a, b) {
  const out = matrix(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      let sum = 0;
      for (let p = 0; p < a.cols; p++) sum += a.data[i * a.cols + p] * b.data[p * b.cols + j];
      out.data[i * b.cols + j] = sum;
    }
  }
  return out;
}

function transpose(a) {
  const out = matrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j];
  }
  return out;
}

// ----- data and parameters (not timed) -----
const names = fs
  .readFileSync(namesPath, "utf8")
  .split("\n")
  .filter((line) => line.length > 0);
const chars = ["."].concat([...new Set(names.join(""))].sort());
const stoi = new Map(chars.map((ch, i) => [ch, i]));
const V = chars.length;
const contexts = [];
const targets = [];
for (const name of names) {
  let context = new Array(BLOCK).fill(0);
  for (const ch of name + ".") {
    contexts.push(context);
    targets.push(stoi.get(ch));
    context = context.slice(1).concat([stoi.get(ch)]);
  }
}
const C = matrix(V, EMB, 1);
const W1 = matrix(BLOCK * EMB, HIDDEN, 5 / 3 / Math.sqrt(BLOCK * EMB));
const b1 = matrix(1, HIDDEN, 0.01);
const W2 = matrix(HIDDEN, V, 0.01);
const b2 = matrix(1, V);

// ----- training steps (timed) -----
const times = [];
const losses = [];
for (let step = 0; step < steps; step++) {
  const start = performance.now();
  const batch = [];
  for (let r = 0; r < BATCH; r++) batch.push(Math.floor(random() * contexts.length));
  // forward: lookup and concatenate, hidden layer, output layer
  const x = matrix(BATCH, BLOCK * EMB);
  for (let r = 0; r < BATCH; r++) {
    const context = contexts[batch[r]];
    for (let c = 0; c < BLOCK; c++) {
      for (let e = 0; e < EMB; e++)
        x.data[r * BLOCK * EMB + c * EMB + e] = C.data[context[c] * EMB + e];
    }
  }
  const pre = matmul(x, W1);
  const h = matrix(BATCH, HIDDEN);
  for (let r = 0; r < BATCH; r++) {
    for (let j = 0; j < HIDDEN; j++)
      h.data[r * HIDDEN + j] = Math.tanh(pre.data[r * HIDDEN + j] + b1.data[j]);
  }
  const logits = matmul(h, W2);
  // softmax, cross-entropy, and its gradient (probs - one_hot) / n
  const dlogits = matrix(BATCH, V);
  let loss = 0;
  for (let r = 0; r < BATCH; r++) {
    let max = -Infinity;
    for (let j = 0; j < V; j++) max = Math.max(max, logits.data[r * V + j] + b2.data[j]);
    let sum = 0;
    for (let j = 0; j < V; j++) {
      const e = Math.exp(logits.data[r * V + j] + b2.data[j] - max);
      dlogits.data[r * V + j] = e;
      sum += e;
    }
    const y = targets[batch[r]];
    loss -= Math.log(dlogits.data[r * V + y] / sum);
    for (let j = 0; j < V; j++)
      dlogits.data[r * V + j] = (dlogits.data[r * V + j] / sum - (j === y ? 1 : 0)) / BATCH;
  }
  loss /= BATCH;
  // backward
  const dW2 = matmul(transpose(h), dlogits);
  const db2 = new Float32Array(V);
  for (let r = 0; r < BATCH; r++) for (let j = 0; j < V; j++) db2[j] += dlogits.data[r * V + j];
  const dh = matmul(dlogits, transpose(W2));
  const dpre = matrix(BATCH, HIDDEN);
  for (let i = 0; i < dpre.data.length; i++)
    dpre.data[i] = (1 - h.data[i] * h.data[i]) * dh.data[i];
  const dW1 = matmul(transpose(x), dpre);
  const db1 = new Float32Array(HIDDEN);
  for (let r = 0; r < BATCH; r++)
    for (let j = 0; j < HIDDEN; j++) db1[j] += dpre.data[r * HIDDEN + j];
  const dx = matmul(dpre, transpose(W1));
  const dC = new Float32Array(V * EMB);
  for (let r = 0; r < BATCH; r++) {
    const context = contexts[batch[r]];
    for (let c = 0; c < BLOCK; c++) {
      for (let e = 0; e < EMB; e++)
        dC[context[c] * EMB + e] += dx.data[r * BLOCK * EMB + c * EMB + e];
    }
  }
  // update
  for (let i = 0; i < C.data.length; i++) C.data[i] -= LR * dC[i];
  for (let i = 0; i < W1.data.length; i++) W1.data[i] -= LR * dW1.data[i];
  for (let i = 0; i < HIDDEN; i++) b1.data[i] -= LR * db1[i];
  for (let i = 0; i < W2.data.length; i++) W2.data[i] -= LR * dW2.data[i];
  for (let i = 0; i < V; i++) b2.data[i] -= LR * db2[i];
  times.push((performance.now() - start) / 1000);
  losses.push(loss);
}

process.stdout.write(
  JSON.stringify({ node: process.version, steps, batch: BATCH, seconds: times, losses }) + "\n",
);
