#!/usr/bin/env bash
# Builds the ingest Lambda for the provided.al2023 runtime: infra/build/bootstrap.zip, holding
# the `bootstrap` binary (cargo feature `lambda`) at its root, which is where
# infra/template.yaml's CodeUri points.
#
#   infra/build-lambda.sh                 # x86_64 (LambdaArchitecture=x86_64)
#   infra/build-lambda.sh --arch arm64    # Graviton; needs `rustup target add aarch64-unknown-linux-gnu`
#
# Amazon Linux 2023 has glibc 2.34. A binary linked against a newer glibc asks for symbols the
# runtime lacks (a Rust binary linked on Debian 12 wants hypot@GLIBC_2.35) and dies at start,
# which no local test shows. So the binary is linked by cargo-zigbuild against glibc 2.34's
# symbols, whatever the build machine has (infra/requirements.txt installs cargo-zigbuild and
# zig), and the script still reads the binary's glibc symbol versions and refuses a zip that
# needs a newer one.
set -euo pipefail

readonly RUNTIME_GLIBC=2.34
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
arch=x86_64
while [[ $# -gt 0 ]]; do
    case "$1" in
        --arch) arch=${2:?--arch needs x86_64 or arm64}; shift 2 ;;
        --arch=*) arch=${1#--arch=}; shift ;;
        -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "build-lambda.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$arch" in
    x86_64) triple=x86_64-unknown-linux-gnu; elf=x86-64 ;;
    arm64) triple=aarch64-unknown-linux-gnu; elf=aarch64 ;;
    *) echo "build-lambda.sh: --arch is x86_64 or arm64, not $arch" >&2; exit 2 ;;
esac

if ! command -v cargo-zigbuild >/dev/null; then
    echo "build-lambda.sh: cargo-zigbuild is not on PATH. Install it and zig with" >&2
    echo "  python3 -m venv .venv-infra && .venv-infra/bin/pip install -r infra/requirements.txt" >&2
    echo "and run again with PATH=\$PWD/.venv-infra/bin:\$PATH." >&2
    exit 1
fi

cd "$root"
cargo zigbuild --release --locked -p eventlake --features lambda --bin bootstrap \
    --target "$triple.$RUNTIME_GLIBC"

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
binary="$target_dir/$triple/release/bootstrap"
[[ -x "$binary" ]] || { echo "build-lambda.sh: $binary was not built" >&2; exit 1; }
case "$(file -b "$binary")" in
    *"ELF 64-bit"*"$elf"*) ;;
    *) echo "build-lambda.sh: $binary is not a $elf ELF executable: $(file -b "$binary")" >&2; exit 1 ;;
esac

# The newest glibc symbol version the binary needs.
newest=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
if [[ "$(printf '%s\n%s\n' "$newest" "$RUNTIME_GLIBC" | sort -V | tail -n 1)" != "$RUNTIME_GLIBC" ]]; then
    echo "build-lambda.sh: bootstrap needs glibc $newest; provided.al2023 has $RUNTIME_GLIBC:" >&2
    objdump -T "$binary" | grep -E "GLIBC_$newest\b" >&2
    exit 1
fi

out="$root/infra/build"
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$binary" "$stage/bootstrap"
# A fixed timestamp and no extra attributes: the same binary gives the same zip, so an
# unchanged function is not redeployed.
touch -t 198001010000 "$stage/bootstrap"
rm -f "$out/bootstrap.zip"
(cd "$stage" && zip -X -q "$out/bootstrap.zip" bootstrap)

size=$(du -h "$out/bootstrap.zip" | cut -f1)
sum=$(sha256sum "$out/bootstrap.zip" | cut -d' ' -f1)
echo "infra/build/bootstrap.zip: $size, sha256 $sum"
echo "bootstrap: $arch ELF, needs glibc <= $newest (provided.al2023 has $RUNTIME_GLIBC)"
echo "deploy with LambdaArchitecture=$arch"
