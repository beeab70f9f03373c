# torchreid on a CUDA runtime image.
#   make build-image            # docker build -t torchreid .
#   make run                    # interactive shell with the repo mounted, all GPUs, 8 GB shared memory
FROM pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1

# A C compiler for the Cython rank extension; libgl/libglib for OpenCV.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc=4:* g++=4:* libglib2.0-0=2.* \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /workspace/torchreid

# Dependencies first (cached layer), then the package and its extension.
COPY requirements.txt requirements-extras.txt ./
RUN pip install -r requirements.txt -r requirements-extras.txt "Cython>=3.0"
COPY . .
RUN pip install --no-build-isolation -e . \
    && python setup.py build_ext --inplace \
    && python -c "import torchreid.metrics.rank_cylib.rank_cy"

CMD ["bash"]
