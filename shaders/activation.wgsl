// activation.wgsl: an element-wise non-linearity, ReLU or GELU, over float32 values.
//
//   @binding(0) x      : count floats (storage, read)
//   @binding(1) y      : count floats, the result (storage, read_write)
//   @binding(2) params : uniform (count, op): op 0 is ReLU, op 1 is GELU
// Dispatch ceil(count / 256) workgroups, laid out over x then y (num_workgroups.x wide).
//
// GELU is the tanh approximation GPT-2 uses (torch's approximate="tanh"):
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). WGSL has no erf for the exact form.
// The tanh argument is clamped to +-10, where tanh is 1 to float32's precision, because
// some drivers compute tanh from exp and return NaN once exp overflows.

struct Params {
  count: u32,
  op: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
  pad3: u32,
  pad4: u32,
  pad5: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

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
  let v = x[i];
  if (params.op == 0u) {
    y[i] = max(v, 0.0);
  } else {
    let inner = clamp(0.7978845608 * (v + 0.044715 * v * v * v), -10.0, 10.0);
    y[i] = 0.5 * v * (1.0 + tanh(inner));
  }
}
