#include "pyramid.hpp"

#include <algorithm>

namespace bfcnn {
namespace {

inline int reflect101(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * n - 2 - i;
  }
  return i;
}

// Horizontal 5-tap filter + decimation of one row (w x c floats) into (wo x c).
void down_row(const float* in, int w, int c, float* out, int wo) {
  for (int xo = 0; xo < wo; ++xo) {
    const int x = 2 * xo;
    const float* p0 = in + reflect101(x - 2, w) * c;
    const float* p1 = in + reflect101(x - 1, w) * c;
    const float* p2 = in + reflect101(x, w) * c;
    const float* p3 = in + reflect101(x + 1, w) * c;
    const float* p4 = in + reflect101(x + 2, w) * c;
    float* o = out + xo * c;
    for (int ch = 0; ch < c; ++ch)
      o[ch] = (p0[ch] + p4[ch]) + 4.0f * (p1[ch] + p3[ch]) + 6.0f * p2[ch];
  }
}

}  // namespace

Image pyr_down(const Image& src) {
  const int h = src.height, w = src.width, c = src.channels;
  const int ho = (h + 1) / 2, wo = (w + 1) / 2;
  Image dst(ho, wo, c);
  // Rows filtered horizontally, cached: row r of the source maps to tmp row r.
  Image tmp(h, wo, c);
  for (int y = 0; y < h; ++y) down_row(src.row(y), w, c, tmp.row(y), wo);
  const size_t n = static_cast<size_t>(wo) * c;
  const float k = 1.0f / 256.0f;
  for (int yo = 0; yo < ho; ++yo) {
    const int y = 2 * yo;
    const float* r0 = tmp.row(reflect101(y - 2, h));
    const float* r1 = tmp.row(reflect101(y - 1, h));
    const float* r2 = tmp.row(reflect101(y, h));
    const float* r3 = tmp.row(reflect101(y + 1, h));
    const float* r4 = tmp.row(reflect101(y + 2, h));
    float* o = dst.row(yo);
    for (size_t i = 0; i < n; ++i)
      o[i] = ((r0[i] + r4[i]) + 4.0f * (r1[i] + r3[i]) + 6.0f * r2[i]) * k;
  }
  return dst;
}

template <typename T>
std::vector<Image> pyramid_down(const View<T>& src, int levels, float scale) {
  std::vector<Image> out;
  out.reserve(levels);
  Image level0(src.height, src.width, src.channels);
  const int c = src.channels;
  for (int y = 0; y < src.height; ++y) {
    const T* in = src.data + y * src.row_stride;
    float* o = level0.row(y);
    if (src.col_stride == c && src.ch_stride == 1) {  // contiguous row: tight loop
      const int n = src.width * c;
      for (int i = 0; i < n; ++i) o[i] = static_cast<float>(in[i]) * scale;
    } else {
      for (int x = 0; x < src.width; ++x)
        for (int ch = 0; ch < c; ++ch)
          o[x * c + ch] = static_cast<float>(in[x * src.col_stride + ch * src.ch_stride]) * scale;
    }
  }
  out.push_back(std::move(level0));
  for (int k = 1; k < levels; ++k) out.push_back(pyr_down(out.back()));
  return out;
}

template std::vector<Image> pyramid_down<uint8_t>(const View<uint8_t>&, int, float);
template std::vector<Image> pyramid_down<float>(const View<float>&, int, float);

Image pyr_up(const Image& src, int out_h, int out_w) {
  // Zero-insertion to out_h x out_w, then the 5-tap filter with gain 2 per axis (4 in all),
  // reflect-101 on the upsampled grid.
  const int h = src.height, w = src.width, c = src.channels;
  Image tmp(h, out_w, c);
  for (int y = 0; y < h; ++y) {
    const float* in = src.row(y);
    float* o = tmp.row(y);
    for (int x = 0; x < out_w; ++x) {
      float* ox = o + x * c;
      for (int ch = 0; ch < c; ++ch) ox[ch] = 0.0f;
      for (int t = -2; t <= 2; ++t) {
        const int xu = reflect101(x + t, out_w);
        if (xu & 1) continue;
        const int xs = std::min(xu / 2, w - 1);
        const float wgt = (t == 0) ? 6.0f : ((t == 1 || t == -1) ? 4.0f : 1.0f);
        const float* p = in + xs * c;
        for (int ch = 0; ch < c; ++ch) ox[ch] += wgt * p[ch];
      }
    }
  }
  Image dst(out_h, out_w, c);
  const size_t n = static_cast<size_t>(out_w) * c;
  const float k = 4.0f / 256.0f;
  for (int y = 0; y < out_h; ++y) {
    float* o = dst.row(y);
    std::fill(o, o + n, 0.0f);
    for (int t = -2; t <= 2; ++t) {
      const int yu = reflect101(y + t, out_h);
      if (yu & 1) continue;
      const float* r = tmp.row(std::min(yu / 2, h - 1));
      const float wgt = ((t == 0) ? 6.0f : ((t == 1 || t == -1) ? 4.0f : 1.0f)) * k;
      for (size_t i = 0; i < n; ++i) o[i] += wgt * r[i];
    }
  }
  return dst;
}

}  // namespace bfcnn
