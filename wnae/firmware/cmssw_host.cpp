// Loads a CMSSW emulator plug-in the way hls4mlEmulator::ModelLoader does (dlopen, create_model,
// destroy_model) and prints, per event, the score's bits as an integer (score * 2^4 for CMSSW's
// ap_ufixed<18,14>). Input: a file of little-endian int32, n_inputs per event (the hardware values).
// Used by `wnae export cmssw` to check the plug-in bit for bit.
#include <dlfcn.h>

#include <any>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <utility>
#include <vector>

#include "ap_fixed.h"
#include "emulator.h"

typedef ap_fixed<18, 13> unscaled_t;
typedef ap_fixed<18, 14, AP_RND_CONV, AP_SAT> result_t;
typedef ap_ufixed<18, 14> score_t;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s PLUGIN.so INPUTS.bin N_INPUTS\n", argv[0]);
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_LAZY | RTLD_LOCAL);
  if (lib == nullptr) {
    std::fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
    return 1;
  }
  auto* create = reinterpret_cast<hls4mlEmulator::create_model_cls*>(dlsym(lib, "create_model"));
  auto* destroy = reinterpret_cast<hls4mlEmulator::destroy_model_cls*>(dlsym(lib, "destroy_model"));
  if (create == nullptr || destroy == nullptr) {
    std::fprintf(stderr, "%s has no create_model/destroy_model\n", argv[1]);
    return 1;
  }
  const int n_inputs = std::atoi(argv[3]);
  std::ifstream raw(argv[2], std::ios::binary | std::ios::ate);
  const long bytes = raw.tellg();
  raw.seekg(0);
  std::vector<int> ints(bytes / 4);
  raw.read(reinterpret_cast<char*>(ints.data()), bytes);
  const long n_events = static_cast<long>(ints.size()) / n_inputs;
  {
    std::shared_ptr<hls4mlEmulator::Model> model(create(), [destroy](hls4mlEmulator::Model* m) { destroy(m); });
    std::vector<unscaled_t> event(n_inputs);
    std::pair<result_t, score_t> result;
    for (long e = 0; e < n_events; e++) {
      for (int i = 0; i < n_inputs; i++) event[i] = ints[e * n_inputs + i];
      model->prepare_input(event.data());
      model->predict();
      model->read_result(&result);
      std::printf("%llu\n", static_cast<unsigned long long>(result.second.range(17, 0).to_uint64()));
    }
  }
  dlclose(lib);
  return 0;
}
