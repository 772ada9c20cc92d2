/* Opt-in speed-up for the torch backend on AMD CPUs (tools/libtorch/torch-fast.sh preloads it).
 * libtorch's bundled MKL asks mkl_serv_intel_cpu_true() whether the CPU is Intel's and, on any other
 * vendor, runs its generic code paths instead of the AVX2/AVX-512 ones the CPU has. Answering 1 lets MKL
 * choose by the instructions the CPU reports. The results stay within the torch backend's tolerance. */
int mkl_serv_intel_cpu_true(void) { return 1; }
