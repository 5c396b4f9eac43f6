// Gaussian pyramid (cv2.pyrDown / pyrUp semantics) in plain, portable C++17.
// 5-tap binomial [1 4 6 4 1]/16 per axis, reflect-101 border. No SIMD intrinsics and no
// -march flags: the loops are written so that compilers auto-vectorize them on x86-64
// and aarch64 alike.
#pragma once
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <memory>
#include <vector>

namespace bfcnn {

// A strided view of an H x W x C image (strides in elements, may be negative).
template <typename T>
struct View {
  const T* data;
  std::ptrdiff_t row_stride, col_stride, ch_stride;
  int height, width, channels;
};

// A dense float32 H x W x C image, owning its buffer or borrowing one (a numpy array or a
// TFLite input tensor the caller passed in). An owned buffer is left uninitialized: every
// pixel is written exactly once, and zero-filling it first cost a whole extra memory pass.
struct Image {
  int height = 0, width = 0, channels = 0;
  std::unique_ptr<float[]> owned;
  float* ptr = nullptr;
  Image() = default;
  Image(int h, int w, int c)
      : height(h), width(w), channels(c), owned(new float[static_cast<size_t>(h) * w * c]), ptr(owned.get()) {}
  Image(int h, int w, int c, float* borrowed) : height(h), width(w), channels(c), ptr(borrowed) {}
  Image(const Image& o) : Image(o.height, o.width, o.channels) { std::copy(o.data(), o.data() + o.size(), ptr); }
  Image(Image&&) = default;
  Image& operator=(Image&&) = default;
  size_t size() const { return static_cast<size_t>(height) * width * channels; }
  float* data() { return ptr; }
  const float* data() const { return ptr; }
  float* row(int y) { return ptr + static_cast<size_t>(y) * width * channels; }
  const float* row(int y) const { return ptr + static_cast<size_t>(y) * width * channels; }
};

// Level 0 = src * scale (as float32); level k = pyr_down(level k-1). One call, one pass per level.
// threads > 1: rows of levels 0 and 1 in parallel bands (frames of 64K values and up).
template <typename T>
std::vector<Image> pyramid_down(const View<T>& src, int levels, float scale, int threads = 1);

// The same into caller-provided level buffers (sizes already checked): no allocation.
template <typename T>
void pyramid_down_into(const View<T>& src, std::vector<Image>& levels, float scale, int threads = 1);

// One cv2.pyrDown step: ((h+1)/2, (w+1)/2).
Image pyr_down(const Image& src);

// One pyrUp step to an explicit size (out_h in {2h-1, 2h}, likewise w); multiplies by `gain`.
Image pyr_up(const Image& src, int out_h, int out_w);

}  // namespace bfcnn
