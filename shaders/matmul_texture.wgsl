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
// Measured side by side on 2 cores at 1024^3, this kernel (packing included) ran 3 to 5
// times as fast as matmul_cpu.wgsl, which reads the buffers, and its shader compiles in
// about a second, not ten. Each invocation owns a BM x 8 block of C (two vec4s per row,
// eight vec4 accumulators, which fit the 16 AVX registers with the operands); a step of
// the loop takes four of K: BM texels of A, 4 x 2 of B, 32 vec4 multiply-adds.
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
const BM: u32 = 4u;   // rows of C per invocation (and per workgroup)
const BN: u32 = 64u;  // columns of C per workgroup: WG invocations x 8 columns each

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
  var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0);
  var c20 = vec4<f32>(0.0); var c21 = vec4<f32>(0.0);
  var c30 = vec4<f32>(0.0); var c31 = vec4<f32>(0.0);
  let steps = i32((dims.k_end + 3u) / 4u);
  for (var s = i32(dims.k_begin / 4u); s < steps; s++) {
    let a0 = textureLoad(ta, vec2<i32>(s, ya), 0);
    let a1 = textureLoad(ta, vec2<i32>(s, ya + 1), 0);
    let a2 = textureLoad(ta, vec2<i32>(s, ya + 2), 0);
    let a3 = textureLoad(ta, vec2<i32>(s, ya + 3), 0);
    let k = yb + 4 * s;
    var b0 = textureLoad(tb, vec2<i32>(t0, k), 0);
    var b1 = textureLoad(tb, vec2<i32>(t1, k), 0);
    c00 += a0.x * b0; c01 += a0.x * b1; c10 += a1.x * b0; c11 += a1.x * b1;
    c20 += a2.x * b0; c21 += a2.x * b1; c30 += a3.x * b0; c31 += a3.x * b1;
    b0 = textureLoad(tb, vec2<i32>(t0, k + 1), 0);
    b1 = textureLoad(tb, vec2<i32>(t1, k + 1), 0);
    c00 += a0.y * b0; c01 += a0.y * b1; c10 += a1.y * b0; c11 += a1.y * b1;
    c20 += a2.y * b0; c21 += a2.y * b1; c30 += a3.y * b0; c31 += a3.y * b1;
    b0 = textureLoad(tb, vec2<i32>(t0, k + 2), 0);
    b1 = textureLoad(tb, vec2<i32>(t1, k + 2), 0);
    c00 += a0.z * b0; c01 += a0.z * b1; c10 += a1.z * b0; c11 += a1.z * b1;
    c20 += a2.z * b0; c21 += a2.z * b1; c30 += a3.z * b0; c31 += a3.z * b1;
    b0 = textureLoad(tb, vec2<i32>(t0, k + 3), 0);
    b1 = textureLoad(tb, vec2<i32>(t1, k + 3), 0);
    c00 += a0.w * b0; c01 += a0.w * b1; c10 += a1.w * b0; c11 += a1.w * b1;
    c20 += a2.w * b0; c21 += a2.w * b1; c30 += a3.w * b0; c31 += a3.w * b1;
  }
  let c_base = wg.z * dims.m * dims.n;
  store4(c_base, row0, col, c00); store4(c_base, row0, col + 4u, c01);
  store4(c_base, row0 + 1u, col, c10); store4(c_base, row0 + 1u, col + 4u, c11);
  store4(c_base, row0 + 2u, col, c20); store4(c_base, row0 + 2u, col + 4u, c21);
  store4(c_base, row0 + 3u, col, c30); store4(c_base, row0 + 3u, col + 4u, c31);
}
