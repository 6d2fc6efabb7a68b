// add.wgsl: element-wise sum of float32 arrays, the second repeated along the first.
//
//   @binding(0) a      : count floats (storage, read)
//   @binding(1) b      : b_count floats, b_count dividing count (storage, read)
//   @binding(2) y      : count floats, a + b (storage, read_write)
//   @binding(3) params : uniform (count, b_count)
// Dispatch ceil(count / 256) workgroups, laid out over x then y (num_workgroups.x wide).
//
// y[i] = a[i] + b[i % b_count]: with b_count = count a residual connection, with b_count
// the width of a row a bias added to every row (numpy's broadcast over leading axes).

struct Params {
  count: u32,
  b_count: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
  pad3: u32,
  pad4: u32,
  pad5: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let i = (wg.y * groups.x + wg.x) * WG + li;
  if (i >= params.count) {
    return;
  }
  y[i] = a[i] + b[i % params.b_count];
}
