# Package lists of the container image (infra/docker/Dockerfile.gpu),
# included by the Makefile (`make print-IMAGE_RUNTIME_PKGS`).
#
# These are Ubuntu 22.04 (jammy) names: the image's base is
# nvidia/cuda:12.2.0-*-ubuntu22.04.  They differ from the Debian 12 lists
# in the Makefile (DEB_*_PKGS) where the library soname differs:
#   Tesseract 4.1.1 is libtesseract4 on jammy (libtesseract5 on Debian 12);
#   the others (liblept5, libnng1, libhiredis0.14, libpq5, libcurl4,
#   libjansson4, libmicrohttpd12, libsystemd0, libpoppler-glib8, libcairo2)
#   have the same names on both (jammy: nng/hiredis/microhttpd in universe).
# tests/infra/run.sh checks that the Dockerfile installs exactly these.

# Build stage (CUDA devel image): compiler and -dev packages for `make all`.
IMAGE_BUILD_PKGS := build-essential pkg-config libtesseract-dev libleptonica-dev libnng-dev \
                    libhiredis-dev libpq-dev libcurl4-openssl-dev libjansson-dev \
                    libmicrohttpd-dev libsystemd-dev libpoppler-glib-dev libcairo2-dev

# Runtime stage (CUDA runtime image): shared libraries, Tesseract with the
# ind and eng models, CA certificates (TLS to R2 / PostgreSQL / BULI2) and
# curl (HEALTHCHECK).
IMAGE_RUNTIME_PKGS := ca-certificates curl tesseract-ocr tesseract-ocr-eng tesseract-ocr-ind \
                      libtesseract4 liblept5 libnng1 libhiredis0.14 libpq5 libcurl4 \
                      libjansson4 libmicrohttpd12 libsystemd0 libpoppler-glib8 libcairo2
