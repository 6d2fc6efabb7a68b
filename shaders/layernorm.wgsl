// layernorm.wgsl: layer normalisation over the last axis of a float32 matrix.
//
//   @binding(0) x      : rows x n floats, row-major (storage, read)
//   @binding(1) weight : n floats, the gain (storage, read)
//   @binding(2) bias   : n floats (storage, read)
//   @binding(3) y      : rows x n floats, the result (storage, read_write)
//   @binding(4) params : uniform (rows, n, eps)
// Dispatch one workgroup per row, laid out over x then y as softmax.wgsl does.
//
// y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance (divided by
// n), as torch.nn.LayerNorm computes it. The mean is found first and the variance summed
// from the centred values (two passes over the row, not E[x^2] - E[x]^2, which loses
// digits when the mean is large against the spread).

struct Params {
  rows: u32,
  n: u32,
  eps: f32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
  pad3: u32,
  pad4: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, 64>;

// Sum every invocation's partial[] into partial[0].
fn reduce_sum(li: u32) {
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (li < stride) {
      partial[li] += partial[li + stride];
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(64, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let row = wg.y * groups.x + wg.x;
  if (row >= params.rows) {
    return;  // the same for the whole workgroup, so no barrier is left waiting
  }
  let base = row * params.n;
  let count = f32(params.n);

  var total = 0.0;
  for (var j = li; j < params.n; j += WG) {
    total += x[base + j];
  }
  partial[li] = total;
  reduce_sum(li);
  let mean = partial[0] / count;
  workgroupBarrier();  // everyone has read partial[0] before it is overwritten

  var squares = 0.0;
  for (var j = li; j < params.n; j += WG) {
    let d = x[base + j] - mean;
    squares += d * d;
  }
  partial[li] = squares;
  reduce_sum(li);
  let inv_std = inverseSqrt(partial[0] / count + params.eps);

  for (var j = li; j < params.n; j += WG) {
    y[base + j] = (x[base + j] - mean) * inv_std * weight[j] + bias[j];
  }
}
