// hnswlib's SpaceInterface over one of our distance kernels (distance.h). Include hnswlib first:
// hnswlib defines non-inline functions in its headers, so only the files that already include
// it (the index, and the raw-hnswlib benchmark) include this one.
#pragma once

#include <cstddef>

#include "qdrantd/index/distance.h"

namespace qd::index {

class KernelSpace : public hnswlib::SpaceInterface<float> {
 public:
  KernelSpace(size_t dim, DistanceKernel kernel) : dim_(dim), kernel_(kernel) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return kernel_; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  size_t dim_;
  DistanceKernel kernel_;
};

}  // namespace qd::index
