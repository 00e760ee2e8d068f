# GPU image: auditor on a CUDA build of PyTorch, with onnxruntime-gpu.
#   docker build -t auditor .
#   docker run --gpus all -v "$PWD:/work" auditor clean /work/model.onnx -o /work/clean.onnx
ARG BASE=pytorch/pytorch:2.14.1-cuda12.8-cudnn9-runtime
FROM ${BASE}

WORKDIR /opt/auditor
COPY pyproject.toml README.md ./
COPY auditor ./auditor
COPY kernels ./kernels

# The base image's torch satisfies the pin; onnxruntime-gpu takes the place of the CPU wheel
# (the two must not be installed together).
RUN pip install --no-cache-dir . \
 && pip uninstall -y onnxruntime \
 && pip install --no-cache-dir onnxruntime-gpu \
 && auditor --version

WORKDIR /work
ENTRYPOINT ["auditor"]
CMD ["--help"]
