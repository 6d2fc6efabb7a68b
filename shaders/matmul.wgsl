// matmul.wgsl: C = A * B for float32 row-major matrices.
//
// Layout (read by runtime/gpu.py under wgpu-py and by the browser's WebGPU):
//   @binding(0) a    : M x K floats, row-major  (storage, read)
//   @binding(1) b    : K x N floats, row-major  (storage, read)
//   @binding(2) c    : M x N floats, row-major  (storage, read_write)
//   @binding(3) dims : uniform (M, K, N, k_begin, k_end), all in group 0
// Dispatch ceil(N / BN) x ceil(M / BM) x 1 workgroups.
//
// One dispatch sums only k_begin <= k < k_end (k_begin a multiple of BK), storing C when
// k_begin is 0 and adding to it otherwise. The host splits a deep K into such chunks,
// because some drivers stop a long-running loop early (llvmpipe caps loop iterations
// near 65,535, silently) and desktop GPUs reset a dispatch that runs for seconds.
//
// Each 16x16 workgroup computes one BM x BN = 64 x 128 tile of C; each invocation
// owns a 4 x 8 block of it, kept in registers. Per step of BK along K, the workgroup
// stages a BM x BK slice of A and a BK x BN slice of B in workgroup memory (12 KiB,
// under WebGPU's 16 KiB default), so every value read from global memory is used
// many times. An invocation's rows and columns are strided by 16 rather than
// contiguous, so neighbouring invocations touch neighbouring addresses (coalesced
// stores, no bank conflicts on GPUs; contiguous SIMD lanes on CPU rasterisers).
// Shapes need not be multiples of the tile: out-of-range loads read 0 and
// out-of-range stores are skipped. Only standard WGSL, no native extensions.

struct Dims {
  m: u32,
  k: u32,
  n: u32,
  k_begin: u32,
  k_end: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;

const WG: u32 = 16u;        // workgroup is WG x WG invocations
const TM: u32 = 4u;         // rows of C per invocation
const TN4: u32 = 2u;        // columns of C per invocation, in vec4s (8 columns)
const BM: u32 = 64u;        // = TM * WG, rows of C per workgroup
const BN: u32 = 128u;       // = 4 * TN4 * WG, columns of C per workgroup
const BK: u32 = 16u;        // depth of one K step
const THREADS: u32 = 256u;  // = WG * WG

// Stored k-major ([k][m] and [k][n]) so the inner loop reads rows of both.
var<workgroup> tile_a: array<f32, 1024>;  // BK * BM
var<workgroup> tile_b: array<f32, 2048>;  // BK * BN

@compute @workgroup_size(16, 16, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  var acc: array<vec4<f32>, 8>;  // TM * TN4, zero-initialised
  let first = dims.k_begin / BK;
  let steps = (dims.k_end + BK - 1u) / BK;

  // Every invocation runs every step, even those whose outputs fall outside C:
  // workgroupBarrier() must be reached in uniform control flow.
  for (var s = first; s < steps; s++) {
    let k0 = s * BK;

    // Stage A: consecutive invocations walk along a row of A (contiguous reads).
    for (var i = 0u; i < BM * BK / THREADS; i++) {
      let idx = li + i * THREADS;
      let m = idx / BK;
      let k = idx % BK;
      var v = 0.0;
      if (row0 + m < dims.m && k0 + k < dims.k_end) {
        v = a[(row0 + m) * dims.k + k0 + k];
      }
      tile_a[k * BM + m] = v;
    }
    // Stage B: consecutive invocations walk along a row of B.
    for (var i = 0u; i < BN * BK / THREADS; i++) {
      let idx = li + i * THREADS;
      let k = idx / BN;
      let n = idx % BN;
      var v = 0.0;
      if (k0 + k < dims.k_end && col0 + n < dims.n) {
        v = b[(k0 + k) * dims.n + col0 + n];
      }
      tile_b[k * BN + n] = v;
    }
    workgroupBarrier();

    for (var k = 0u; k < BK; k++) {
      var bv: array<vec4<f32>, 2>;  // TN4
      for (var j = 0u; j < TN4; j++) {
        let o = k * BN + lid.x + 4u * j * WG;
        bv[j] = vec4<f32>(tile_b[o], tile_b[o + WG], tile_b[o + 2u * WG], tile_b[o + 3u * WG]);
      }
      for (var i = 0u; i < TM; i++) {
        let av = tile_a[k * BM + lid.y + i * WG];
        for (var j = 0u; j < TN4; j++) {
          acc[i * TN4 + j] += av * bv[j];
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM; i++) {
    let row = row0 + lid.y + i * WG;
    if (row < dims.m) {
      for (var j = 0u; j < TN4 * 4u; j++) {
        let col = col0 + lid.x + j * WG;
        if (col < dims.n) {
          let value = acc[i * TN4 + j / 4u][j % 4u];
          if (dims.k_begin == 0u) {
            c[row * dims.n + col] = value;
          } else {
            c[row * dims.n + col] += value;
          }
        }
      }
    }
  }
}
