#include "nyu_mat.h"

#include <hdf5.h>

#include <vector>

namespace must::test {

void write_nyu_mat(const std::filesystem::path& file, const torch::Tensor& images, const torch::Tensor& depths,
                   bool with_depths) {
  const hid_t properties = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_userblock(properties, 512);
  const hid_t h5 = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, properties, H5P_DEFAULT);
  auto write = [&](const char* name, const torch::Tensor& t, hid_t type) {
    std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
    const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    const hid_t set = H5Dcreate2(h5, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const torch::Tensor contiguous = t.contiguous();
    H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, contiguous.data_ptr());
    H5Dclose(set);
    H5Sclose(space);
  };
  write("images", images, H5T_NATIVE_UINT8);
  if (with_depths) write("depths", depths, H5T_NATIVE_FLOAT);
  H5Fclose(h5);
  H5Pclose(properties);
}

}  // namespace must::test
