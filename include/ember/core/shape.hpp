// ember/core/shape.hpp — `Shape`, a small fixed-capacity list of dimension sizes, and the helpers
// that turn shapes into row-major strides, normalize negative dims and broadcast two shapes.
//
// A Shape lives inline (no heap allocation), so creating a tensor or a view never allocates for
// its metadata. ember supports up to `Shape::kMaxDims` (8) dimensions, which covers every
// Transformer tensor ([batch, heads, seq, head_dim] is 4-D).
// Broadcasting follows NumPy/PyTorch: shapes are aligned at the right; a size of 1 stretches.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <vector>

#include <ember/core/error.hpp>

namespace ember {

/// Dimension sizes of a tensor, outermost first (`[batch, seq, hidden]`). Also used for strides.
class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }
  template <class It>
  Shape(It first, It last) { assign(first, last); }

  /// Number of dimensions.
  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t& operator[](int i) { return d_[i]; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t* begin() { return d_; }
  int64_t* end() { return d_ + n_; }
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  int64_t back() const { return d_[n_ - 1]; }

  void push_back(int64_t v) {
    EMBER_CHECK(n_ < kMaxDims, "Shape: at most ", kMaxDims, " dimensions are supported");
    d_[n_++] = v;
  }
  void insert(int pos, int64_t v) {
    EMBER_CHECK(n_ < kMaxDims, "Shape: at most ", kMaxDims, " dimensions are supported");
    for (int i = n_; i > pos; --i) d_[i] = d_[i - 1];
    d_[pos] = v;
    ++n_;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
    --n_;
  }
  void resize(int n, int64_t fill = 0) {
    EMBER_CHECK(n >= 0 && n <= kMaxDims, "Shape: at most ", kMaxDims, " dimensions are supported");
    for (int i = n_; i < n; ++i) d_[i] = fill;
    n_ = n;
  }

  /// Product of the sizes (1 for a 0-d shape).
  int64_t numel() const {
    int64_t p = 1;
    for (int i = 0; i < n_; ++i) p *= d_[i];
    return p;
  }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(begin(), end()); }

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.n_ != b.n_) return false;
    for (int i = 0; i < a.n_; ++i)
      if (a.d_[i] != b.d_[i]) return false;
    return true;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

  friend std::ostream& operator<<(std::ostream& os, const Shape& s) {
    os << '[';
    for (int i = 0; i < s.n_; ++i) os << (i ? ", " : "") << s.d_[i];
    return os << ']';
  }

 private:
  template <class It>
  void assign(It first, It last) {
    n_ = 0;
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }
  int64_t d_[kMaxDims] = {};
  int n_ = 0;
};

/// Row-major (C-order) strides of a contiguous tensor of shape `s`, in elements.
inline Shape contiguous_strides(const Shape& s) {
  Shape st;
  st.resize(s.size());
  int64_t acc = 1;
  for (int i = s.size() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i] > 0 ? s[i] : 1;
  }
  return st;
}

/// Maps a possibly negative dim (-1 = last) into [0, ndim); throws naming `op` when out of range.
inline int normalize_dim(int64_t dim, int ndim, const char* op) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  EMBER_CHECK(d >= 0 && d < (ndim == 0 ? 1 : ndim), op, ": dim ", dim,
              " is out of range for a tensor with ", ndim, " dimension(s) (expected a dim in [",
              -ndim, ", ", ndim - 1, "])");
  return static_cast<int>(d);
}

/// NumPy broadcast of two shapes; throws naming `op` and both shapes when they are incompatible.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int n = a.size() > b.size() ? a.size() : b.size();
  Shape out;
  out.resize(n);
  for (int i = 0; i < n; ++i) {
    int ia = a.size() - n + i, ib = b.size() - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    EMBER_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
                " cannot be broadcast together (dimension ", i - n, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// Strides that read a tensor of `shape`/`strides` as if expanded to `target` (0 along the
/// stretched and the prepended dims). `shape` must broadcast to `target`.
inline Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  Shape out;
  out.resize(target.size());
  int off = target.size() - shape.size();
  for (int i = 0; i < target.size(); ++i) {
    int j = i - off;
    out[i] = (j < 0 || shape[j] == 1) ? 0 : strides[j];
  }
  return out;
}

}  // namespace ember
