// matmul_cpu.wgsl: C[z] = op(A[z]) * op(B[z]), the same product as matmul.wgsl (its
// bindings, its `dims` uniform, its chunks of K), shaped for adapters that are CPUs:
// Mesa's llvmpipe, which runs a workgroup on one CPU thread with eight invocations in the
// lanes of AVX registers. runtime/gpu_backend.py picks it when the adapter says "CPU" and
// the host cannot bind textures (the page, for now); else matmul_texture.wgsl, faster.
//
// Why another kernel: llvmpipe (Mesa 22) turns every load from a storage or workgroup
// buffer into a loop over the eight lanes, with a branch and a scalar load per lane, even
// when the lanes share the address; the arithmetic runs eight lanes at once. So loads cost
// far more than multiply-adds, and workgroup memory does not make them cheaper: it only
// adds copies and barriers. Here each invocation owns a 16 x 16 block of C and reads A and
// B straight from their buffers: per step of K, 32 loads feed 256 multiply-adds (the tiled
// kernel: 16 loads from workgroup memory for 64, plus the staging).
// Measured on llvmpipe with 2 cores, side by side in one process: 16 x 16 blocks ran 2.4
// to 2.6 times as fast as matmul.wgsl; 32 x 16 about 15% faster still, but its compile
// took ten times as long (over 100 s on a loaded machine, against 12 s), and the first
// product of every build pays it; 8 x 8 and 16 x 8 were slower; 32 x 32 lost to spills.
// A GPU keeps matmul.wgsl: 256 accumulators per invocation would spill there.
//
// The accumulators are written out one per row, four vec4s each (an array indexed in a
// loop ran 2x slower and compiled 50x longer here), by one call of store_row in a loop
// over the rows: with sixteen calls, the stores took most of the compile time (33 s
// without Mesa's shader cache on the loaded machine, 2 s with one call). Rows and columns past the edge of C
// are clamped to its last row and column for loading, so the inner loop has no branch,
// and skipped when storing. `dims.flags` bit 0 reads A transposed (stored K x M), bit 1
// reads B transposed (stored N x K), so attention's q @ k^T needs no copy: the strides
// below cover the four cases, and cost nothing next to the loads.

struct Dims {
  m: u32,
  k: u32,
  n: u32,
  k_begin: u32,
  k_end: u32,
  a_stride: u32,
  b_stride: u32,
  flags: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;

const WG: u32 = 8u;    // invocations per workgroup, side by side along the columns
const BM: u32 = 16u;   // rows of C per invocation (and per workgroup)
const BN: u32 = 128u;  // columns of C per workgroup: WG invocations x 16 columns each

// Store (or add, after the first chunk of K) four columns of one row, those inside C.
fn store4(c_base: u32, row: u32, col: u32, v: vec4<f32>) {
  if (row >= dims.m) {
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    if (col + j < dims.n) {
      let o = c_base + row * dims.n + col + j;
      if (dims.k_begin == 0u) {
        c[o] = v[j];
      } else {
        c[o] += v[j];
      }
    }
  }
}

fn store_row(c_base: u32, row: u32, col: u32, v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>) {
  store4(c_base, row, col, v0);
  store4(c_base, row, col + 4u, v1);
  store4(c_base, row, col + 8u, v2);
  store4(c_base, row, col + 12u, v3);
}

@compute @workgroup_size(8, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let trans_a = (dims.flags & 1u) != 0u;
  let trans_b = (dims.flags & 2u) != 0u;
  // A[i][k] is a[a_base + i * a_row + k * a_col]; B[k][j] is b[b_base + k * b_row + j * b_col].
  let a_row = select(dims.k, 1u, trans_a);
  let a_col = select(1u, dims.m, trans_a);
  let b_row = select(dims.n, 1u, trans_b);
  let b_col = select(1u, dims.k, trans_b);
  let a_base = wg.z * dims.a_stride;
  let b_base = wg.z * dims.b_stride;
  let c_base = wg.z * dims.m * dims.n;
  let row0 = wg.y * BM;
  let col = wg.x * BN + lid.x * 16u;
  let last_row = dims.m - 1u;
  let last_col = dims.n - 1u;
  let j0 = b_base + min(col + 0u, last_col) * b_col;
  let j1 = b_base + min(col + 1u, last_col) * b_col;
  let j2 = b_base + min(col + 2u, last_col) * b_col;
  let j3 = b_base + min(col + 3u, last_col) * b_col;
  let j4 = b_base + min(col + 4u, last_col) * b_col;
  let j5 = b_base + min(col + 5u, last_col) * b_col;
  let j6 = b_base + min(col + 6u, last_col) * b_col;
  let j7 = b_base + min(col + 7u, last_col) * b_col;
  let j8 = b_base + min(col + 8u, last_col) * b_col;
  let j9 = b_base + min(col + 9u, last_col) * b_col;
  let j10 = b_base + min(col + 10u, last_col) * b_col;
  let j11 = b_base + min(col + 11u, last_col) * b_col;
  let j12 = b_base + min(col + 12u, last_col) * b_col;
  let j13 = b_base + min(col + 13u, last_col) * b_col;
  let j14 = b_base + min(col + 14u, last_col) * b_col;
  let j15 = b_base + min(col + 15u, last_col) * b_col;
  let i0 = a_base + min(row0 + 0u, last_row) * a_row;
  let i1 = a_base + min(row0 + 1u, last_row) * a_row;
  let i2 = a_base + min(row0 + 2u, last_row) * a_row;
  let i3 = a_base + min(row0 + 3u, last_row) * a_row;
  let i4 = a_base + min(row0 + 4u, last_row) * a_row;
  let i5 = a_base + min(row0 + 5u, last_row) * a_row;
  let i6 = a_base + min(row0 + 6u, last_row) * a_row;
  let i7 = a_base + min(row0 + 7u, last_row) * a_row;
  let i8 = a_base + min(row0 + 8u, last_row) * a_row;
  let i9 = a_base + min(row0 + 9u, last_row) * a_row;
  let i10 = a_base + min(row0 + 10u, last_row) * a_row;
  let i11 = a_base + min(row0 + 11u, last_row) * a_row;
  let i12 = a_base + min(row0 + 12u, last_row) * a_row;
  let i13 = a_base + min(row0 + 13u, last_row) * a_row;
  let i14 = a_base + min(row0 + 14u, last_row) * a_row;
  let i15 = a_base + min(row0 + 15u, last_row) * a_row;
  var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0); var c02 = vec4<f32>(0.0); var c03 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0); var c12 = vec4<f32>(0.0); var c13 = vec4<f32>(0.0);
  var c20 = vec4<f32>(0.0); var c21 = vec4<f32>(0.0); var c22 = vec4<f32>(0.0); var c23 = vec4<f32>(0.0);
  var c30 = vec4<f32>(0.0); var c31 = vec4<f32>(0.0); var c32 = vec4<f32>(0.0); var c33 = vec4<f32>(0.0);
  var c40 = vec4<f32>(0.0); var c41 = vec4<f32>(0.0); var c42 = vec4<f32>(0.0); var c43 = vec4<f32>(0.0);
  var c50 = vec4<f32>(0.0); var c51 = vec4<f32>(0.0); var c52 = vec4<f32>(0.0); var c53 = vec4<f32>(0.0);
  var c60 = vec4<f32>(0.0); var c61 = vec4<f32>(0.0); var c62 = vec4<f32>(0.0); var c63 = vec4<f32>(0.0);
  var c70 = vec4<f32>(0.0); var c71 = vec4<f32>(0.0); var c72 = vec4<f32>(0.0); var c73 = vec4<f32>(0.0);
  var c80 = vec4<f32>(0.0); var c81 = vec4<f32>(0.0); var c82 = vec4<f32>(0.0); var c83 = vec4<f32>(0.0);
  var c90 = vec4<f32>(0.0); var c91 = vec4<f32>(0.0); var c92 = vec4<f32>(0.0); var c93 = vec4<f32>(0.0);
  var c100 = vec4<f32>(0.0); var c101 = vec4<f32>(0.0); var c102 = vec4<f32>(0.0); var c103 = vec4<f32>(0.0);
  var c110 = vec4<f32>(0.0); var c111 = vec4<f32>(0.0); var c112 = vec4<f32>(0.0); var c113 = vec4<f32>(0.0);
  var c120 = vec4<f32>(0.0); var c121 = vec4<f32>(0.0); var c122 = vec4<f32>(0.0); var c123 = vec4<f32>(0.0);
  var c130 = vec4<f32>(0.0); var c131 = vec4<f32>(0.0); var c132 = vec4<f32>(0.0); var c133 = vec4<f32>(0.0);
  var c140 = vec4<f32>(0.0); var c141 = vec4<f32>(0.0); var c142 = vec4<f32>(0.0); var c143 = vec4<f32>(0.0);
  var c150 = vec4<f32>(0.0); var c151 = vec4<f32>(0.0); var c152 = vec4<f32>(0.0); var c153 = vec4<f32>(0.0);

  for (var k = dims.k_begin; k < dims.k_end; k++) {
    let kb = k * b_row;
    let b0 = vec4<f32>(b[j0 + kb], b[j1 + kb], b[j2 + kb], b[j3 + kb]);
    let b1 = vec4<f32>(b[j4 + kb], b[j5 + kb], b[j6 + kb], b[j7 + kb]);
    let b2 = vec4<f32>(b[j8 + kb], b[j9 + kb], b[j10 + kb], b[j11 + kb]);
    let b3 = vec4<f32>(b[j12 + kb], b[j13 + kb], b[j14 + kb], b[j15 + kb]);
    let ka = k * a_col;
    let a0 = a[i0 + ka]; c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    let a1 = a[i1 + ka]; c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    let a2 = a[i2 + ka]; c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    let a3 = a[i3 + ka]; c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
    let a4 = a[i4 + ka]; c40 += a4 * b0; c41 += a4 * b1; c42 += a4 * b2; c43 += a4 * b3;
    let a5 = a[i5 + ka]; c50 += a5 * b0; c51 += a5 * b1; c52 += a5 * b2; c53 += a5 * b3;
    let a6 = a[i6 + ka]; c60 += a6 * b0; c61 += a6 * b1; c62 += a6 * b2; c63 += a6 * b3;
    let a7 = a[i7 + ka]; c70 += a7 * b0; c71 += a7 * b1; c72 += a7 * b2; c73 += a7 * b3;
    let a8 = a[i8 + ka]; c80 += a8 * b0; c81 += a8 * b1; c82 += a8 * b2; c83 += a8 * b3;
    let a9 = a[i9 + ka]; c90 += a9 * b0; c91 += a9 * b1; c92 += a9 * b2; c93 += a9 * b3;
    let a10 = a[i10 + ka]; c100 += a10 * b0; c101 += a10 * b1; c102 += a10 * b2; c103 += a10 * b3;
    let a11 = a[i11 + ka]; c110 += a11 * b0; c111 += a11 * b1; c112 += a11 * b2; c113 += a11 * b3;
    let a12 = a[i12 + ka]; c120 += a12 * b0; c121 += a12 * b1; c122 += a12 * b2; c123 += a12 * b3;
    let a13 = a[i13 + ka]; c130 += a13 * b0; c131 += a13 * b1; c132 += a13 * b2; c133 += a13 * b3;
    let a14 = a[i14 + ka]; c140 += a14 * b0; c141 += a14 * b1; c142 += a14 * b2; c143 += a14 * b3;
    let a15 = a[i15 + ka]; c150 += a15 * b0; c151 += a15 * b1; c152 += a15 * b2; c153 += a15 * b3;
  }

  // One call of store_row, in a loop over the rows: llvmpipe makes every store a loop over
  // the lanes, and sixteen inlined copies of store_row took most of the compile time.
  for (var r = 0u; r < BM; r++) {
    var v0 = c00;
    var v1 = c01;
    var v2 = c02;
    var v3 = c03;
    switch r {
      case 1u: { v0 = c10; v1 = c11; v2 = c12; v3 = c13; }
      case 2u: { v0 = c20; v1 = c21; v2 = c22; v3 = c23; }
      case 3u: { v0 = c30; v1 = c31; v2 = c32; v3 = c33; }
      case 4u: { v0 = c40; v1 = c41; v2 = c42; v3 = c43; }
      case 5u: { v0 = c50; v1 = c51; v2 = c52; v3 = c53; }
      case 6u: { v0 = c60; v1 = c61; v2 = c62; v3 = c63; }
      case 7u: { v0 = c70; v1 = c71; v2 = c72; v3 = c73; }
      case 8u: { v0 = c80; v1 = c81; v2 = c82; v3 = c83; }
      case 9u: { v0 = c90; v1 = c91; v2 = c92; v3 = c93; }
      case 10u: { v0 = c100; v1 = c101; v2 = c102; v3 = c103; }
      case 11u: { v0 = c110; v1 = c111; v2 = c112; v3 = c113; }
      case 12u: { v0 = c120; v1 = c121; v2 = c122; v3 = c123; }
      case 13u: { v0 = c130; v1 = c131; v2 = c132; v3 = c133; }
      case 14u: { v0 = c140; v1 = c141; v2 = c142; v3 = c143; }
      case 15u: { v0 = c150; v1 = c151; v2 = c152; v3 = c153; }
      default: {}
    }
    store_row(c_base, row0 + r, col, v0, v1, v2, v3);
  }
}
