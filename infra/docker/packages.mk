# Package lists of the container image (infra/docker/Dockerfile.gpu),
# included by the Makefile (`make print-IMAGE_RUNTIME_PKGS`).
#
# Both stages are Debian 12 (debian:12.11-slim), the release the tests run
# on, so these are the names of the Makefile's DEB_*_PKGS lists: the image
# carries the same Tesseract 5.3.0, Leptonica 1.82.0 and nng 1.5.2 as the
# test machine (the Dockerfile pins them; tests/infra/run.sh compares the
# pins with dpkg-query).  The build stage adds nvcc and the static CUDA
# runtime from NVIDIA's Debian 12 repository.
# tests/infra/run.sh checks that the Dockerfile installs exactly these.

# Build stage: compiler, -dev packages and CUDA for `make all`; curl and
# CA certificates fetch NVIDIA's repository key.
IMAGE_BUILD_PKGS := ca-certificates curl build-essential pkg-config libtesseract-dev \
                    libleptonica-dev libnng-dev libhiredis-dev libpq-dev libcurl4-openssl-dev \
                    libjansson-dev libmicrohttpd-dev libsystemd-dev libpoppler-glib-dev \
                    libcairo2-dev uuid-dev libseccomp-dev cuda-nvcc-12-4 \
                    cuda-cudart-dev-12-4

# Runtime stage: shared libraries, Tesseract with the ind and eng models,
# CA certificates (TLS to R2 / PostgreSQL / BULI2) and curl (HEALTHCHECK).
IMAGE_RUNTIME_PKGS := ca-certificates curl tesseract-ocr tesseract-ocr-eng tesseract-ocr-ind \
                      libtesseract5 liblept5 libnng1 libhiredis0.14 libpq5 libcurl4 \
                      libjansson4 libmicrohttpd12 libsystemd0 libpoppler-glib8 libcairo2 \
                      libuuid1 libseccomp2
