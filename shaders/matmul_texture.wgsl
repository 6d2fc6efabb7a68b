// matmul_texture.wgsl: C[z] = A[z] * B[z], the product of matmul.wgsl, for adapters that
// are CPUs (Mesa's llvmpipe), reading its operands from textures that matmul_pack.wgsl
// filled: runtime/gpu_backend.py packs A and B, then runs this, in the same queue.
//
//   @binding(0) ta   : A as rgba32float, texel (t, za + i) = A[z][i][4t .. 4t + 3]
//   @binding(1) tb   : B as rgba32float, texel (t, zb + k) = B[z][k][4t .. 4t + 3]
//   @binding(2) c    : the C matrices, M x N floats each, packed (storage, read_write)
//   @binding(3) dims : uniform (M, K, N, k_begin, k_end, a_rows, b_rows), where
//                      za = z * a_rows and zb = z * b_rows (0: one matrix for the batch)
// Dispatch ceil(N / BN) x ceil(M / BM) x batch workgroups. A's texture has its rows padded
// with zeros to a multiple of BM, and both have K padded with zeros to a multiple of 4.
//
// Why textures: llvmpipe runs eight invocations in the lanes of AVX registers, and inside a
// loop it loads from a storage buffer one lane at a time, each lane behind its own bounds
// check and branch; a texel fetch is one gather for all eight lanes, four floats each.
// Each invocation owns a BM x 8 block of C: 32 accumulators (two vec4s a row), which is
// more than the 16 AVX registers hold (each component of a vec4 is a register of eight
// lanes), but the loads cost more than the spills. A step of the loop takes four of K:
// BM texels of A, 4 x 2 of B, 128 vec4 multiply-adds.
// Measured side by side on 2 busy cores at 1024^3, packing included: 16 x 8 blocks and
// 8 x 16 ran alike, 2.5 to 8 times as fast as matmul_cpu.wgsl, 4 x 8 at about half their
// speed, 16 x 16 no faster than 16 x 8 and slower to compile; 16 x 8 keeps the tile narrow
// for attention's 16- and 32-column products. It compiles in about a second (without
// Mesa's shader cache), where matmul_cpu.wgsl took about 20. A workgroup of 8 x 8
// invocations gained nothing.
// One dispatch sums k_begin <= k < k_end (multiples of 4, save the last k_end), storing C
// when k_begin is 0 and adding to it otherwise, as matmul.wgsl does.

struct Dims {
  m: u32,
  k: u32,
  n: u32,
  k_begin: u32,
  k_end: u32,
  a_rows: u32,
  b_rows: u32,
  pad0: u32,
}

@group(0) @binding(0) var ta: texture_2d<f32>;
@group(0) @binding(1) var tb: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;

const WG: u32 = 8u;   // invocations per workgroup, side by side along the columns
const BM: u32 = 16u;  // rows of C per invocation (and per workgroup)
const BN: u32 = 64u;  // columns of C per workgroup: WG invocations x 8 columns each

// Store (or add, after the first chunk of K) one row's eight columns, those inside C.
fn store_row(c_base: u32, row: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (row >= dims.m) {
    return;
  }
  for (var j = 0u; j < 8u; j++) {
    if (col + j < dims.n) {
      let o = c_base + row * dims.n + col + j;
      let v = select(hi[j % 4u], lo[j % 4u], j < 4u);
      if (dims.k_begin == 0u) {
        c[o] = v;
      } else {
        c[o] += v;
      }
    }
  }
}

@compute @workgroup_size(8, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col = wg.x * BN + lid.x * 8u;
  let row0 = wg.y * BM;
  // Texel columns of B: clamped, so the lanes past the last column read real texels
  // (their sums are never stored).
  let last = i32((dims.n + 3u) / 4u) - 1;
  let t0 = min(i32(col / 4u), last);
  let t1 = min(i32(col / 4u) + 1, last);
  let ya = i32(wg.z * dims.a_rows + row0);
  let yb = i32(wg.z * dims.b_rows);
  var c0a = vec4<f32>(0.0); var c0b = vec4<f32>(0.0);
  var c1a = vec4<f32>(0.0); var c1b = vec4<f32>(0.0);
  var c2a = vec4<f32>(0.0); var c2b = vec4<f32>(0.0);
  var c3a = vec4<f32>(0.0); var c3b = vec4<f32>(0.0);
  var c4a = vec4<f32>(0.0); var c4b = vec4<f32>(0.0);
  var c5a = vec4<f32>(0.0); var c5b = vec4<f32>(0.0);
  var c6a = vec4<f32>(0.0); var c6b = vec4<f32>(0.0);
  var c7a = vec4<f32>(0.0); var c7b = vec4<f32>(0.0);
  var c8a = vec4<f32>(0.0); var c8b = vec4<f32>(0.0);
  var c9a = vec4<f32>(0.0); var c9b = vec4<f32>(0.0);
  var c10a = vec4<f32>(0.0); var c10b = vec4<f32>(0.0);
  var c11a = vec4<f32>(0.0); var c11b = vec4<f32>(0.0);
  var c12a = vec4<f32>(0.0); var c12b = vec4<f32>(0.0);
  var c13a = vec4<f32>(0.0); var c13b = vec4<f32>(0.0);
  var c14a = vec4<f32>(0.0); var c14b = vec4<f32>(0.0);
  var c15a = vec4<f32>(0.0); var c15b = vec4<f32>(0.0);
  let steps = i32((dims.k_end + 3u) / 4u);
  for (var s = i32(dims.k_begin / 4u); s < steps; s++) {
    let a0 = textureLoad(ta, vec2<i32>(s, ya + 0), 0);
    let a1 = textureLoad(ta, vec2<i32>(s, ya + 1), 0);
    let a2 = textureLoad(ta, vec2<i32>(s, ya + 2), 0);
    let a3 = textureLoad(ta, vec2<i32>(s, ya + 3), 0);
    let a4 = textureLoad(ta, vec2<i32>(s, ya + 4), 0);
    let a5 = textureLoad(ta, vec2<i32>(s, ya + 5), 0);
    let a6 = textureLoad(ta, vec2<i32>(s, ya + 6), 0);
    let a7 = textureLoad(ta, vec2<i32>(s, ya + 7), 0);
    let a8 = textureLoad(ta, vec2<i32>(s, ya + 8), 0);
    let a9 = textureLoad(ta, vec2<i32>(s, ya + 9), 0);
    let a10 = textureLoad(ta, vec2<i32>(s, ya + 10), 0);
    let a11 = textureLoad(ta, vec2<i32>(s, ya + 11), 0);
    let a12 = textureLoad(ta, vec2<i32>(s, ya + 12), 0);
    let a13 = textureLoad(ta, vec2<i32>(s, ya + 13), 0);
    let a14 = textureLoad(ta, vec2<i32>(s, ya + 14), 0);
    let a15 = textureLoad(ta, vec2<i32>(s, ya + 15), 0);
    let k = yb + 4 * s;
    var b0 = textureLoad(tb, vec2<i32>(t0, k), 0);
    var b1 = textureLoad(tb, vec2<i32>(t1, k), 0);
    c0a += a0.x * b0; c0b += a0.x * b1; c1a += a1.x * b0; c1b += a1.x * b1;
    c2a += a2.x * b0; c2b += a2.x * b1; c3a += a3.x * b0; c3b += a3.x * b1;
    c4a += a4.x * b0; c4b += a4.x * b1; c5a += a5.x * b0; c5b += a5.x * b1;
    c6a += a6.x * b0; c6b += a6.x * b1; c7a += a7.x * b0; c7b += a7.x * b1;
    c8a += a8.x * b0; c8b += a8.x * b1; c9a += a9.x * b0; c9b += a9.x * b1;
    c10a += a10.x * b0; c10b += a10.x * b1; c11a += a11.x * b0; c11b += a11.x * b1;
    c12a += a12.x * b0; c12b += a12.x * b1; c13a += a13.x * b0; c13b += a13.x * b1;
    c14a += a14.x * b0; c14b += a14.x * b1; c15a += a15.x * b0; c15b += a15.x * b1;
    b0 = textureLoad(tb, vec2<i32>(t0, k + 1), 0);
    b1 = textureLoad(tb, vec2<i32>(t1, k + 1), 0);
    c0a += a0.y * b0; c0b += a0.y * b1; c1a += a1.y * b0; c1b += a1.y * b1;
    c2a += a2.y * b0; c2b += a2.y * b1; c3a += a3.y * b0; c3b += a3.y * b1;
    c4a += a4.y * b0; c4b += a4.y * b1; c5a += a5.y * b0; c5b += a5.y * b1;
    c6a += a6.y * b0; c6b += a6.y * b1; c7a += a7.y * b0; c7b += a7.y * b1;
    c8a += a8.y * b0; c8b += a8.y * b1; c9a += a9.y * b0; c9b += a9.y * b1;
    c10a += a10.y * b0; c10b += a10.y * b1; c11a += a11.y * b0; c11b += a11.y * b1;
    c12a += a12.y * b0; c12b += a12.y * b1; c13a += a13.y * b0; c13b += a13.y * b1;
    c14a += a14.y * b0; c14b += a14.y * b1; c15a += a15.y * b0; c15b += a15.y * b1;
    b0 = textureLoad(tb, vec2<i32>(t0, k + 2), 0);
    b1 = textureLoad(tb, vec2<i32>(t1, k + 2), 0);
    c0a += a0.z * b0; c0b += a0.z * b1; c1a += a1.z * b0; c1b += a1.z * b1;
    c2a += a2.z * b0; c2b += a2.z * b1; c3a += a3.z * b0; c3b += a3.z * b1;
    c4a += a4.z * b0; c4b += a4.z * b1; c5a += a5.z * b0; c5b += a5.z * b1;
    c6a += a6.z * b0; c6b += a6.z * b1; c7a += a7.z * b0; c7b += a7.z * b1;
    c8a += a8.z * b0; c8b += a8.z * b1; c9a += a9.z * b0; c9b += a9.z * b1;
    c10a += a10.z * b0; c10b += a10.z * b1; c11a += a11.z * b0; c11b += a11.z * b1;
    c12a += a12.z * b0; c12b += a12.z * b1; c13a += a13.z * b0; c13b += a13.z * b1;
    c14a += a14.z * b0; c14b += a14.z * b1; c15a += a15.z * b0; c15b += a15.z * b1;
    b0 = textureLoad(tb, vec2<i32>(t0, k + 3), 0);
    b1 = textureLoad(tb, vec2<i32>(t1, k + 3), 0);
    c0a += a0.w * b0; c0b += a0.w * b1; c1a += a1.w * b0; c1b += a1.w * b1;
    c2a += a2.w * b0; c2b += a2.w * b1; c3a += a3.w * b0; c3b += a3.w * b1;
    c4a += a4.w * b0; c4b += a4.w * b1; c5a += a5.w * b0; c5b += a5.w * b1;
    c6a += a6.w * b0; c6b += a6.w * b1; c7a += a7.w * b0; c7b += a7.w * b1;
    c8a += a8.w * b0; c8b += a8.w * b1; c9a += a9.w * b0; c9b += a9.w * b1;
    c10a += a10.w * b0; c10b += a10.w * b1; c11a += a11.w * b0; c11b += a11.w * b1;
    c12a += a12.w * b0; c12b += a12.w * b1; c13a += a13.w * b0; c13b += a13.w * b1;
    c14a += a14.w * b0; c14b += a14.w * b1; c15a += a15.w * b0; c15b += a15.w * b1;
  }
  // One call of store_row, in a loop over the rows: llvmpipe makes every store a loop over
  // the lanes, and sixteen inlined copies of store_row took 5 to 9 s to compile, not 1.
  let c_base = wg.z * dims.m * dims.n;
  for (var r = 0u; r < BM; r++) {
    var lo = c0a;
    var hi = c0b;
    switch r {
      case 1u: { lo = c1a; hi = c1b; }
      case 2u: { lo = c2a; hi = c2b; }
      case 3u: { lo = c3a; hi = c3b; }
      case 4u: { lo = c4a; hi = c4b; }
      case 5u: { lo = c5a; hi = c5b; }
      case 6u: { lo = c6a; hi = c6b; }
      case 7u: { lo = c7a; hi = c7b; }
      case 8u: { lo = c8a; hi = c8b; }
      case 9u: { lo = c9a; hi = c9b; }
      case 10u: { lo = c10a; hi = c10b; }
      case 11u: { lo = c11a; hi = c11b; }
      case 12u: { lo = c12a; hi = c12b; }
      case 13u: { lo = c13a; hi = c13b; }
      case 14u: { lo = c14a; hi = c14b; }
      case 15u: { lo = c15a; hi = c15b; }
      default: {}
    }
    store_row(c_base, row0 + r, col, lo, hi);
  }
}
