// Gaussian pyramid (cv2.pyrDown / pyrUp semantics) in plain, portable C++17.
// 5-tap binomial [1 4 6 4 1]/16 per axis, reflect-101 border. No SIMD intrinsics and no
// -march flags: the loops are written so that compilers auto-vectorize them on x86-64
// and aarch64 alike.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bfcnn {

// A strided view of an H x W x C image (strides in elements, may be negative).
template <typename T>
struct View {
  const T* data;
  std::ptrdiff_t row_stride, col_stride, ch_stride;
  int height, width, channels;
};

// A dense float32 H x W x C image.
struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<float> pixels;
  Image() = default;
  Image(int h, int w, int c) : height(h), width(w), channels(c), pixels(static_cast<size_t>(h) * w * c) {}
  float* row(int y) { return pixels.data() + static_cast<size_t>(y) * width * channels; }
  const float* row(int y) const { return pixels.data() + static_cast<size_t>(y) * width * channels; }
};

// Level 0 = src * scale (as float32); level k = pyr_down(level k-1). One call, one pass per level.
template <typename T>
std::vector<Image> pyramid_down(const View<T>& src, int levels, float scale);

// One cv2.pyrDown step: ((h+1)/2, (w+1)/2).
Image pyr_down(const Image& src);

// One pyrUp step to an explicit size (out_h in {2h-1, 2h}, likewise w); multiplies by `gain`.
Image pyr_up(const Image& src, int out_h, int out_w);

}  // namespace bfcnn
