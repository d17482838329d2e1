# Sourced by the tools/gpu_*.sh scripts: points the ICD loader at NVIDIA's
# OpenCL library (a box with only the driver has no vendors file) and puts
# the bundled libraries (tools/gpu_bundle.sh) first on the library path.
# usage: . tools/gpu_env.sh LIBDIR
lib=$(ls /usr/local/nvidia/lib64/libnvidia-opencl.so.1 2>/dev/null || find / -name 'libnvidia-opencl.so.1' 2>/dev/null | head -n 1)
echo "NVIDIA OpenCL library: ${lib:-none}"
mkdir -p /tmp/icd && echo "$lib" > /tmp/icd/nvidia.icd
export OCL_ICD_VENDORS=/tmp/icd LD_LIBRARY_PATH=$1:$(dirname "${lib:-/x}") CLRESNET_CACHE_DIR=/tmp/kc
