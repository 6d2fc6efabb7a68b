// matmul.wgsl: C[z] = A[z] * B[z] for a batch of float32 row-major matrices, one dispatch.
//
// Layout (read by runtime/gpu_backend.py, under wgpu-py and the browser's WebGPU alike):
//   @binding(0) a    : the A matrices, M x K floats each, a_stride apart (0: one A for all)
//   @binding(1) b    : the B matrices, K x N floats each, b_stride apart (0: one B for all)
//   @binding(2) c    : the C matrices, M x N floats each, packed (storage, read_write)
//   @binding(3) dims : uniform (M, K, N, k_begin, k_end, a_stride, b_stride, flags), group 0
// flags bit 0: A is stored transposed (K x M); bit 1: B is stored transposed (N x K), so
// attention's q @ k^T needs no copy. Only the staging loads below see the difference.
// Dispatch ceil(N / BN) x ceil(M / BM) x batch workgroups: z picks the matrix, so every
// head of every sequence is one dispatch, and a stride of 0 broadcasts an operand (the
// weights of a linear layer against a batch of activations).
//
// One dispatch sums only k_begin <= k < k_end (k_begin a multiple of BK), storing C when
// k_begin is 0 and adding to it otherwise. The host splits a deep K into such chunks,
// because some drivers stop a long-running loop early (llvmpipe caps loop iterations
// near 65,535, silently) and desktop GPUs reset a dispatch that runs for seconds.
//
// Each 8x8 workgroup computes one BM x BN = 64 x 64 tile of C; each invocation owns an
// 8 x 8 block of it, sixteen vec4 accumulators named one by one (an array indexed in a
// loop may be kept in memory rather than registers). Per step of BK along K, the
// workgroup stages a BM x BK slice of A and a BK x BN slice of B in workgroup memory
// (8 KiB, under WebGPU's 16 KiB default) as vec4s, k-major, so each step of the inner
// loop is four vec4 reads for sixteen vec4 multiply-adds, and every value read from
// global memory is used 64 times. Measured on llvmpipe, this 8 x 8 block ran about twice
// as fast as 256 invocations owning 4 x 4 blocks each: a CPU rasteriser pays for every
// invocation at a barrier and for every read of workgroup memory, a GPU much less.
// Shapes need not be multiples of the tile: out-of-range loads read 0 and out-of-range
// stores are skipped. Only standard WGSL, no native extensions.

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

const WG: u32 = 8u;        // workgroup is WG x WG invocations
const BM: u32 = 64u;       // = 8 * WG, rows of C per workgroup
const BN: u32 = 64u;       // = 8 * WG, columns of C per workgroup
const BK: u32 = 16u;       // depth of one K step
const THREADS: u32 = 64u;  // = WG * WG

// tile_a[k * 16 + i] holds rows 4i..4i+3 of the A slice at depth k; tile_b[k * 16 + j]
// holds columns 4j..4j+3 of the B slice at depth k.
var<workgroup> tile_a: array<vec4<f32>, 256>;  // BK * BM / 4
var<workgroup> tile_b: array<vec4<f32>, 256>;  // BK * BN / 4

// Store (or add, after the first chunk of K) one row's 8 columns, those inside C.
fn store_row(c_base: u32, row: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (row >= dims.m) {
    return;
  }
  for (var j = 0u; j < 8u; j++) {
    if (col + j < dims.n) {
      var v = 0.0;
      if (j < 4u) {
        v = lo[j];
      } else {
        v = hi[j - 4u];
      }
      let o = c_base + row * dims.n + col + j;
      if (dims.k_begin == 0u) {
        c[o] = v;
      } else {
        c[o] += v;
      }
    }
  }
}

@compute @workgroup_size(8, 8, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let a_base = wg.z * dims.a_stride;
  let b_base = wg.z * dims.b_stride;
  let c_base = wg.z * dims.m * dims.n;
  // A[i][k] is a[a_base + i * a_row + k * a_col]; B[k][j] is b[b_base + k * b_row + j * b_col].
  let trans_a = (dims.flags & 1u) != 0u;
  let trans_b = (dims.flags & 2u) != 0u;
  let a_row = select(dims.k, 1u, trans_a);
  let a_col = select(1u, dims.m, trans_a);
  let b_row = select(dims.n, 1u, trans_b);
  let b_col = select(1u, dims.k, trans_b);
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  var acc00 = vec4<f32>(0.0);
  var acc01 = vec4<f32>(0.0);
  var acc10 = vec4<f32>(0.0);
  var acc11 = vec4<f32>(0.0);
  var acc20 = vec4<f32>(0.0);
  var acc21 = vec4<f32>(0.0);
  var acc30 = vec4<f32>(0.0);
  var acc31 = vec4<f32>(0.0);
  var acc40 = vec4<f32>(0.0);
  var acc41 = vec4<f32>(0.0);
  var acc50 = vec4<f32>(0.0);
  var acc51 = vec4<f32>(0.0);
  var acc60 = vec4<f32>(0.0);
  var acc61 = vec4<f32>(0.0);
  var acc70 = vec4<f32>(0.0);
  var acc71 = vec4<f32>(0.0);
  let first = dims.k_begin / BK;
  let steps = (dims.k_end + BK - 1u) / BK;

  // Every invocation runs every step, even those whose outputs fall outside C:
  // workgroupBarrier() must be reached in uniform control flow.
  for (var s = first; s < steps; s++) {
    let k0 = s * BK;
    // Stage A: invocation li reads row li of the slice, 16 consecutive k (contiguous in
    // A), and writes them transposed, k-major.
    let a_row_i = row0 + li;
    for (var q = 0u; q < BK / 4u; q++) {
      var va = vec4<f32>(0.0);
      if (a_row_i < dims.m) {
        let base = a_base + a_row_i * a_row;
        for (var j = 0u; j < 4u; j++) {
          if (k0 + q * 4u + j < dims.k_end) {
            va[j] = a[base + (k0 + q * 4u + j) * a_col];
          }
        }
      }
      let slot = li / 4u;
      let lane = li % 4u;
      tile_a[(q * 4u + 0u) * 16u + slot][lane] = va.x;
      tile_a[(q * 4u + 1u) * 16u + slot][lane] = va.y;
      tile_a[(q * 4u + 2u) * 16u + slot][lane] = va.z;
      tile_a[(q * 4u + 3u) * 16u + slot][lane] = va.w;
    }
    // Stage B: consecutive invocations read consecutive groups of 4 columns of a row.
    for (var q = 0u; q < BK * BN / 4u / THREADS; q++) {
      let idx = li + q * THREADS;
      let k = idx / 16u;
      let col = col0 + (idx % 16u) * 4u;
      var vb = vec4<f32>(0.0);
      if (k0 + k < dims.k_end) {
        let base = b_base + (k0 + k) * b_row;
        for (var j = 0u; j < 4u; j++) {
          if (col + j < dims.n) {
            vb[j] = b[base + (col + j) * b_col];
          }
        }
      }
      tile_b[idx] = vb;
    }
    workgroupBarrier();

    for (var k = 0u; k < BK; k++) {
      let a0 = tile_a[k * 16u + lid.y * 2u];
      let a1 = tile_a[k * 16u + lid.y * 2u + 1u];
      let b0 = tile_b[k * 16u + lid.x * 2u];
      let b1 = tile_b[k * 16u + lid.x * 2u + 1u];
      acc00 += a0.x * b0;
      acc01 += a0.x * b1;
      acc10 += a0.y * b0;
      acc11 += a0.y * b1;
      acc20 += a0.z * b0;
      acc21 += a0.z * b1;
      acc30 += a0.w * b0;
      acc31 += a0.w * b1;
      acc40 += a1.x * b0;
      acc41 += a1.x * b1;
      acc50 += a1.y * b0;
      acc51 += a1.y * b1;
      acc60 += a1.z * b0;
      acc61 += a1.z * b1;
      acc70 += a1.w * b0;
      acc71 += a1.w * b1;
    }
    workgroupBarrier();
  }

  let col = col0 + lid.x * 8u;
  store_row(c_base, row0 + lid.y * 8u + 0u, col, acc00, acc01);
  store_row(c_base, row0 + lid.y * 8u + 1u, col, acc10, acc11);
  store_row(c_base, row0 + lid.y * 8u + 2u, col, acc20, acc21);
  store_row(c_base, row0 + lid.y * 8u + 3u, col, acc30, acc31);
  store_row(c_base, row0 + lid.y * 8u + 4u, col, acc40, acc41);
  store_row(c_base, row0 + lid.y * 8u + 5u, col, acc50, acc51);
  store_row(c_base, row0 + lid.y * 8u + 6u, col, acc60, acc61);
  store_row(c_base, row0 + lid.y * 8u + 7u, col, acc70, acc71);
}
