// matmul.wgsl: C[z] = A[z] * B[z] for a batch of float32 row-major matrices, one dispatch.
//
// Layout (read by runtime/gpu_backend.py, under wgpu-py and the browser's WebGPU alike):
//   @binding(0) a    : the A matrices, M x K floats each, a_stride apart (0: one A for all)
//   @binding(1) b    : the B matrices, K x N floats each, b_stride apart (0: one B for all)
//   @binding(2) c    : the C matrices, M x N floats each, packed (storage, read_write)
//   @binding(3) dims : uniform (M, K, N, k_begin, k_end, a_stride, b_stride), group 0
// Dispatch ceil(N / BN) x ceil(M / BM) x batch workgroups: z picks the matrix, so every
// head of every sequence is one dispatch, and a stride of 0 broadcasts an operand (the
// weights of a linear layer against a batch of activations).
//
// One dispatch sums only k_begin <= k < k_end (k_begin a multiple of BK), storing C when
// k_begin is 0 and adding to it otherwise. The host splits a deep K into such chunks,
// because some drivers stop a long-running loop early (llvmpipe caps loop iterations
// near 65,535, silently) and desktop GPUs reset a dispatch that runs for seconds.
//
// Each 16x16 workgroup computes one BM x BN = 64 x 64 tile of C; each invocation owns a
// 4 x 4 block of it, four vec4 accumulators held in registers (named, not an array, so
// no compiler has to keep them in indexable memory). Per step of BK along K, the
// workgroup stages a BM x BK slice of A and a BK x BN slice of B in workgroup memory
// (8 KiB, under WebGPU's 16 KiB default) as vec4s, k-major, so the inner loop is two
// vec4 reads and four vec4 multiply-adds: every value read from global memory is used
// 64 times. Shapes need not be multiples of the tile: out-of-range loads read 0 and
// out-of-range stores are skipped. Only standard WGSL, no native extensions.

struct Dims {
  m: u32,
  k: u32,
  n: u32,
  k_begin: u32,
  k_end: u32,
  a_stride: u32,
  b_stride: u32,
  pad0: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;

const WG: u32 = 16u;   // workgroup is WG x WG invocations
const BM: u32 = 64u;   // = 4 * WG, rows of C per workgroup
const BN: u32 = 64u;   // = 4 * WG, columns of C per workgroup
const BK: u32 = 16u;   // depth of one K step

// tile_a[k * WG + i] holds rows 4i..4i+3 of the A slice at depth k; tile_b[k * WG + j]
// holds columns 4j..4j+3 of the B slice at depth k.
var<workgroup> tile_a: array<vec4<f32>, 256>;  // BK * BM / 4
var<workgroup> tile_b: array<vec4<f32>, 256>;  // BK * BN / 4

@compute @workgroup_size(16, 16, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let a_base = wg.z * dims.a_stride;
  let b_base = wg.z * dims.b_stride;
  let c_base = wg.z * dims.m * dims.n;
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let first = dims.k_begin / BK;
  let steps = (dims.k_end + BK - 1u) / BK;

  // What this invocation stages: four consecutive k of one row of A (a row of A is
  // contiguous along k), and four consecutive columns of one row of B.
  let a_row = li / 4u;
  let a_k = (li % 4u) * 4u;
  let b_k = li / WG;
  let b_col = (li % WG) * 4u;

  // Every invocation runs every step, even those whose outputs fall outside C:
  // workgroupBarrier() must be reached in uniform control flow.
  for (var s = first; s < steps; s++) {
    let k0 = s * BK;
    var va = vec4<f32>(0.0);
    if (row0 + a_row < dims.m) {
      let base = a_base + (row0 + a_row) * dims.k + k0 + a_k;
      for (var j = 0u; j < 4u; j++) {
        if (k0 + a_k + j < dims.k_end) {
          va[j] = a[base + j];
        }
      }
    }
    // transposed on the way in: depth a_k + j, row a_row
    let slot = a_row / 4u;
    let lane = a_row % 4u;
    tile_a[(a_k + 0u) * WG + slot][lane] = va.x;
    tile_a[(a_k + 1u) * WG + slot][lane] = va.y;
    tile_a[(a_k + 2u) * WG + slot][lane] = va.z;
    tile_a[(a_k + 3u) * WG + slot][lane] = va.w;

    var vb = vec4<f32>(0.0);
    if (k0 + b_k < dims.k_end) {
      let base = b_base + (k0 + b_k) * dims.n + col0 + b_col;
      for (var j = 0u; j < 4u; j++) {
        if (col0 + b_col + j < dims.n) {
          vb[j] = b[base + j];
        }
      }
    }
    tile_b[b_k * WG + b_col / 4u] = vb;
    workgroupBarrier();

    for (var k = 0u; k < BK; k++) {
      let av = tile_a[k * WG + lid.y];
      let bv = tile_b[k * WG + lid.x];
      acc0 += av.x * bv;
      acc1 += av.y * bv;
      acc2 += av.z * bv;
      acc3 += av.w * bv;
    }
    workgroupBarrier();
  }

  let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let col = col0 + lid.x * 4u;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y * 4u + i;
    if (row < dims.m) {
      for (var j = 0u; j < 4u; j++) {
        if (col + j < dims.n) {
          let o = c_base + row * dims.n + col + j;
          if (dims.k_begin == 0u) {
            c[o] = rows[i][j];
          } else {
            c[o] += rows[i][j];
          }
        }
      }
    }
  }
}
