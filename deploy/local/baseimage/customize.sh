#!/bin/sh
# mmdebstrap --customize-hook for the local Python base image ($BASE_IMAGE); called by
# deploy/local/services/baseimage.sh with the finished chroot as $1. A failure here fails the
# build (no tarball is cached). Changing this file changes the recipe hash: the next `stack up`
# rebuilds the tarball and re-imports the image.
set -eu
root=$1

# pip goes into a venv at /opt/venv (put first on PATH by the image's ENV). Debian marks its
# system Python "externally managed" (PEP 668), so a bare `pip install` there needs
# --break-system-packages; in the venv `pip install --no-index --find-links /wheels pkg` (and
# Hopsworks-style `RUN pip install --upgrade lib==version`) just work, and whatever a build
# installs stays apart from Debian's packages.
chroot "$root" python3 -m venv /opt/venv
chroot "$root" /opt/venv/bin/python -m pip --version

# The machine's apt sources name its mirror; images are pushed to registries, so leave them out.
# (Builds FROM this image install Python packages with pip, not apt.)
rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*
rm -rf "$root"/root/.cache "$root"/var/cache/apt/*.bin
