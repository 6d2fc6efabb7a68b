// softmax.wgsl: softmax over each row of a float32 matrix, optionally with a causal mask.
//
//   @binding(0) x      : rows x n floats, row-major (storage, read)
//   @binding(1) y      : rows x n floats, the result (storage, read_write)
//   @binding(2) params : uniform (rows, n, causal, scale)
// Dispatch one workgroup per row, rows laid out over x then y (num_workgroups.x wide), so
// more rows than one dimension allows still go in one dispatch.
//
// Each row is scale * x. With causal = T > 0 the rows are the query rows of T-row
// attention matrices: row r attends to keys 0 ..= r % T, and the keys after it get
// probability 0 (not exp(-inf), which is NaN-prone). The 64 invocations stride along the
// row and combine their partial maximum and sum through workgroup memory; the maximum is
// subtracted before exp so no large logit overflows.

struct Params {
  rows: u32,
  n: u32,
  causal: u32,
  scale: f32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
  pad3: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, 64>;

// Combine every invocation's partial[] into partial[0], by maximum or by sum.
fn reduce(li: u32, take_max: bool) {
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (li < stride) {
      if (take_max) {
        partial[li] = max(partial[li], partial[li + stride]);
      } else {
        partial[li] += partial[li + stride];
      }
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
  var limit = params.n;
  if (params.causal > 0u) {
    limit = min(params.n, row % params.causal + 1u);
  }

  var most = -3.4e38;
  for (var j = li; j < limit; j += WG) {
    most = max(most, params.scale * x[base + j]);
  }
  partial[li] = most;
  reduce(li, true);
  let row_max = partial[0];
  workgroupBarrier();  // everyone has read partial[0] before it is overwritten

  var total = 0.0;
  for (var j = li; j < limit; j += WG) {
    total += exp(params.scale * x[base + j] - row_max);
  }
  partial[li] = total;
  reduce(li, false);
  let row_sum = partial[0];

  for (var j = li; j < params.n; j += WG) {
    var p = 0.0;
    if (j < limit) {
      p = exp(params.scale * x[base + j] - row_max) / row_sum;
    }
    y[base + j] = p;
  }
}
