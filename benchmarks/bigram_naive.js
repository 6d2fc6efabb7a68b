// The bigram essay's training iteration, written the way a naive JavaScript notebook does
// it on the CPU: matrices are Float32Arrays with a shape, the products are triple loops,
// the input is a one-hot matrix, and the transpose is built afresh for the backward pass.
// It is the baseline of benchmarks/bench_bigram.py, which runs it under node:
//
//   node benchmarks/bigram_naive.js [names.txt] [iterations]
//
// and reads one line of JSON from stdout: the time of each iteration, measured here in
// node with performance.now(), and the loss each one computed.
"use strict";

const fs = require("fs");
const path = require("path");

const namesPath = process.argv[2] || path.join(__dirname, "..", "essays", "data", "names.txt");
const iterations = Number(process.argv[3] || 3);
const learningRate = 50;

class FloatMatrix {
  constructor(rows, cols, data) {
    this.rows = rows;
    this.cols = cols;
    this.data = data || new Float32Array(rows * cols);
    if (this.data.length !== rows * cols) {
      throw new Error(
        `a ${rows}x${cols} matrix holds ${rows * cols} numbers, not ${this.data.length}`,
      );
    }
  }
  get(i, j) {
    return this.data[i * this.cols + j];
  }
  set(i, j, value) {
    this.data[i * this.cols + j] = value;
  }
}

function matmul(a, b) {
  if (a.cols !== b.rows) throw new Error("shapes do not fit");
  const out = new FloatMatrix(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      let sum = 0;
      for (let k = 0; k < a.cols; k++) sum += a.get(i, k) * b.get(k, j);
      out.set(i, j, sum);
    }
  }
  return out;
}

function transpose(a) {
  const out = new FloatMatrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) out.set(j, i, a.get(i, j));
  }
  return out;
}

function softmaxRows(logits) {
  const out = new FloatMatrix(logits.rows, logits.cols);
  for (let i = 0; i < logits.rows; i++) {
    let max = -Infinity;
    for (let j = 0; j < logits.cols; j++) max = Math.max(max, logits.get(i, j));
    let sum = 0;
    for (let j = 0; j < logits.cols; j++) {
      const e = Math.exp(logits.get(i, j) - max);
      out.set(i, j, e);
      sum += e;
    }
    for (let j = 0; j < logits.cols; j++) out.set(i, j, out.get(i, j) / sum);
  }
  return out;
}

// A seeded generator (mulberry32), so every run starts from the same weights.
function mulberry32(seed) {
  return function () {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ----- data, vocabulary, pairs, one-hot inputs, weights (not timed) -----
const names = fs
  .readFileSync(namesPath, "utf8")
  .split("\n")
  .filter((line) => line.length > 0);
const chars = ["."].concat([...new Set(names.join(""))].sort());
const stoi = new Map(chars.map((ch, i) => [ch, i]));
const V = chars.length;
const xs = [];
const ys = [];
for (const name of names) {
  const word = "." + name + ".";
  for (let i = 0; i + 1 < word.length; i++) {
    xs.push(stoi.get(word[i]));
    ys.push(stoi.get(word[i + 1]));
  }
}
const n = xs.length;
const X = new FloatMatrix(n, V);
for (let r = 0; r < n; r++) X.set(r, xs[r], 1);
const random = mulberry32(2147483647);
const W = new FloatMatrix(V, V);
for (let i = 0; i < V * V; i++) W.data[i] = random() * 2 - 1;

// ----- training iterations (timed) -----
const times = [];
const losses = [];
for (let it = 0; it < iterations; it++) {
  const start = performance.now();
  const logits = matmul(X, W); // forward
  const probs = softmaxRows(logits);
  let loss = 0; // mean negative log-likelihood
  for (let r = 0; r < n; r++) loss -= Math.log(probs.get(r, ys[r]));
  loss /= n;
  const dZ = new FloatMatrix(n, V); // backward: (probs - one_hot(ys)) / n
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < V; j++) dZ.set(r, j, (probs.get(r, j) - (j === ys[r] ? 1 : 0)) / n);
  }
  const dW = matmul(transpose(X), dZ);
  for (let i = 0; i < V * V; i++) W.data[i] -= learningRate * dW.data[i]; // update
  times.push((performance.now() - start) / 1000);
  losses.push(loss);
}

process.stdout.write(
  JSON.stringify({
    node: process.version,
    pairs: n,
    vocab: V,
    iterations,
    seconds: times,
    losses,
  }) + "\n",
);
