// matmul_pack.wgsl: copies a batch of float32 matrices from a storage buffer into an
// rgba32float texture, four columns to a texel, for matmul_texture.wgsl.
//
//   @binding(0) src    : the matrices, `batch` of them, `stride` floats apart (storage, read)
//   @binding(1) dst    : rgba32float storage texture, at least ceil(cols / 4) x batch * padded
//   @binding(2) params : uniform (rows, cols, stride, transposed, padded, batch)
// Dispatch ceil(ceil(cols / 4) / 8) x ceil(batch * padded / 8) workgroups.
//
// Texel (t, z * padded + r) holds X[z][r][4t .. 4t + 3], X being the matrix as the product
// reads it (rows x cols); `transposed` = 1 says the buffer holds it as cols x rows, so this
// one copy is also the transposition. Columns past `cols` and rows past `rows` (up to
// `padded`) are written as zeros: the product then sums whole texels and whole blocks of
// rows without a branch.

struct Params {
  rows: u32,
  cols: u32,
  stride: u32,
  transposed: u32,
  padded: u32,
  batch: u32,
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var dst: texture_storage_2d<rgba32float, write>;
@group(0) @binding(2) var<uniform> params: Params;

fn value(base: u32, r: u32, c: u32) -> f32 {
  if (r >= params.rows || c >= params.cols) {
    return 0.0;
  }
  if (params.transposed != 0u) {
    return src[base + c * params.rows + r];
  }
  return src[base + r * params.cols + c];
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  let y = gid.y;
  if (t * 4u >= params.cols + 3u || y >= params.batch * params.padded) {
    return;
  }
  let z = y / params.padded;
  let r = y % params.padded;
  let base = z * params.stride;
  let c = t * 4u;
  let texel = vec4<f32>(value(base, r, c), value(base, r, c + 1u), value(base, r, c + 2u), value(base, r, c + 3u));
  textureStore(dst, vec2<u32>(t, y), texel);
}
