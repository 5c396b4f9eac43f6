// pybind11 face of the pyramid op. Zero-copy input (any strides), GIL released while computing,
// ValueError (never a crash) for bad input.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "pyramid.hpp"

namespace py = pybind11;
using bfcnn::Image;

namespace {

constexpr int kMaxLevels = 16;
constexpr int kMaxChannels = 4;

py::array_t<float> to_numpy(Image&& img, bool squeeze) {
  auto* heap = new Image(std::move(img));  // owns its buffer (outputs made here are never borrowed)
  py::capsule owner(heap, [](void* p) { delete static_cast<Image*>(p); });
  const py::ssize_t h = heap->height, w = heap->width, c = heap->channels;
  if (squeeze)
    return py::array_t<float>({h, w}, {w * c * 4, c * 4}, heap->data(), owner);
  return py::array_t<float>({h, w, c}, {w * c * 4, c * 4, py::ssize_t(4)}, heap->data(), owner);
}

Image from_numpy(const py::array& a, const char* what) {
  if (a.ndim() != 2 && a.ndim() != 3)
    throw py::value_error(std::string(what) + ": expected HxW or HxWxC float32, got ndim " + std::to_string(a.ndim()));
  py::array_t<float, py::array::c_style | py::array::forcecast> f(a);
  const int h = static_cast<int>(f.shape(0)), w = static_cast<int>(f.shape(1));
  const int c = f.ndim() == 3 ? static_cast<int>(f.shape(2)) : 1;
  if (h < 1 || w < 1 || c < 1 || c > kMaxChannels)
    throw py::value_error(std::string(what) + ": empty image or more than 4 channels");
  Image img(h, w, c);
  std::copy(f.data(), f.data() + static_cast<size_t>(h) * w * c, img.data());
  return img;
}

template <typename T>
bfcnn::View<T> make_view(const py::array& a, int h, int w, int c) {
  const auto item = static_cast<py::ssize_t>(sizeof(T));
  for (int d = 0; d < a.ndim(); ++d)
    if (a.strides(d) % item != 0) throw py::value_error("pyramid_down: unaligned strides are not supported");
  return bfcnn::View<T>{static_cast<const T*>(a.data()), a.strides(0) / item, a.strides(1) / item,
                        a.ndim() == 3 ? a.strides(2) / item : 1, h, w, c};
}

// Caller-provided outputs: C-contiguous writable float32, each holding exactly level k's
// h_k * w_k * c values (any leading 1-dims, e.g. a TFLite input tensor [1, h, w, c]).
std::vector<Image> borrow_outputs(const py::list& out, int levels, int h, int w, int c) {
  if (static_cast<int>(out.size()) != levels)
    throw py::value_error("pyramid_down: out needs one array per level (" + std::to_string(levels) + ")");
  std::vector<Image> images;
  for (int k = 0; k < levels; ++k) {
    py::object item = out[k];
    // anything but a numpy array (None, a float, bytes, a memoryview, ...) is refused here:
    // treating it as an array reads a PyArrayObject that is not there
    if (!py::isinstance<py::array>(item))
      throw py::value_error("pyramid_down: out[" + std::to_string(k) + "] must be a numpy float32 array, got " +
                            std::string(Py_TYPE(item.ptr())->tp_name));
    py::array arr = py::reinterpret_borrow<py::array>(item);
    if (!arr.dtype().is(py::dtype::of<float>()) || !(arr.flags() & py::array::c_style) || !arr.writeable())
      throw py::value_error("pyramid_down: out[" + std::to_string(k) + "] must be a writable C-contiguous float32 array");
    const py::ssize_t want = static_cast<py::ssize_t>(h) * w * c;
    const int nd = static_cast<int>(arr.ndim());
    const bool hwc = nd >= 3 && arr.shape(nd - 3) == h && arr.shape(nd - 2) == w && arr.shape(nd - 1) == c;
    const bool hw = c == 1 && nd >= 2 && arr.shape(nd - 2) == h && arr.shape(nd - 1) == w;
    if (arr.size() != want || !(hwc || hw))
      throw py::value_error("pyramid_down: out[" + std::to_string(k) + "] must hold a " + std::to_string(h) + "x" +
                            std::to_string(w) + "x" + std::to_string(c) + " level");
    images.emplace_back(h, w, c, static_cast<float*>(arr.mutable_data()));
    h = (h + 1) / 2;
    w = (w + 1) / 2;
  }
  return images;
}

template <typename T>
std::vector<Image> run_down(const py::array& a, int levels, float scale, int h, int w, int c,
                            const py::object& out, int threads) {
  bfcnn::View<T> v = make_view<T>(a, h, w, c);
  if (out.is_none()) {
    py::gil_scoped_release release;
    return bfcnn::pyramid_down(v, levels, scale, threads);
  }
  std::vector<Image> images = borrow_outputs(out.cast<py::list>(), levels, h, w, c);
  {
    py::gil_scoped_release release;
    bfcnn::pyramid_down_into(v, images, scale, threads);
  }
  return {};
}

py::object pyramid_down(const py::array& a, int levels, float scale, const py::object& out, int threads) {
  if (threads < 1 || threads > 64)
    throw py::value_error("pyramid_down: threads must be 1..64, got " + std::to_string(threads));
  if (a.ndim() != 2 && a.ndim() != 3)
    throw py::value_error("pyramid_down: expected an HxW or HxWxC image, got ndim " + std::to_string(a.ndim()));
  const py::ssize_t h = a.shape(0), w = a.shape(1), c = a.ndim() == 3 ? a.shape(2) : 1;
  if (h < 1 || w < 1) throw py::value_error("pyramid_down: empty image (a side is 0)");
  if (c < 1 || c > kMaxChannels)
    throw py::value_error("pyramid_down: channels must be 1..4, got " + std::to_string(c));
  if (h > (1 << 20) || w > (1 << 20)) throw py::value_error("pyramid_down: image side over 2^20");
  if (levels < 1 || levels > kMaxLevels)
    throw py::value_error("pyramid_down: levels must be 1..16, got " + std::to_string(levels));
  if (!out.is_none() && !py::isinstance<py::list>(out))
    throw py::value_error("pyramid_down: out must be a list of float32 arrays or None");
  std::vector<Image> result;
  if (a.dtype().is(py::dtype::of<uint8_t>()))
    result = run_down<uint8_t>(a, levels, scale, int(h), int(w), int(c), out, threads);
  else if (a.dtype().is(py::dtype::of<float>()))
    result = run_down<float>(a, levels, scale, int(h), int(w), int(c), out, threads);
  else
    throw py::value_error("pyramid_down: dtype must be uint8 or float32, got " + std::string(py::str(a.dtype())));
  if (!out.is_none()) return out;
  py::list list;
  for (auto& img : result) list.append(to_numpy(std::move(img), a.ndim() == 2));
  return list;
}

py::array_t<float> pyr_up(const py::array& a, int out_h, int out_w) {
  Image src = from_numpy(a, "pyr_up");
  const int h = src.height, w = src.width;
  if (out_h != 2 * h && out_h != 2 * h - 1)
    throw py::value_error("pyr_up: out height must be 2h or 2h-1, got " + std::to_string(out_h));
  if (out_w != 2 * w && out_w != 2 * w - 1)
    throw py::value_error("pyr_up: out width must be 2w or 2w-1, got " + std::to_string(out_w));
  if (out_h < 1 || out_w < 1) throw py::value_error("pyr_up: empty output");
  Image dst;
  {
    py::gil_scoped_release release;
    dst = bfcnn::pyr_up(src, out_h, out_w);
  }
  return to_numpy(std::move(dst), a.ndim() == 2);
}

}  // namespace

PYBIND11_MODULE(_pyramid, m) {
  m.doc() = "bfcnn Gaussian pyramid (C++17, cv2.pyrDown/pyrUp semantics)";
  m.attr("BACKEND") = "cpp";
  m.def("pyramid_down", &pyramid_down, py::arg("image"), py::arg("levels"), py::arg("scale") = 1.0f,
        py::arg("out") = py::none(), py::arg("threads") = 1,
        "List of `levels` float32 arrays: level 0 = image*scale, level k = pyrDown(level k-1). "
        "With out=[arrays], writes into them (no allocation) and returns out. threads > 1 computes "
        "levels 0 and 1 in parallel bands of rows (frames of 64K values and up).");
  m.def("pyr_up", &pyr_up, py::arg("image"), py::arg("out_h"), py::arg("out_w"),
        "One pyrUp step of a float32 HxW[xC] image to (out_h, out_w).");
}
