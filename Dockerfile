# pipeaudit as a container image: a static (musl) binary on a distroless
# base that carries CA certificates and a non-root user, nothing else.
#
#   docker build --build-arg PIPEAUDIT_BUILD_COMMIT="$(git rev-parse --short=12 HEAD)" -t pipeaudit .
#   docker run --rm -e AWS_REGION -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY \
#     -e AWS_SESSION_TOKEN pipeaudit --format json
#
# The build context leaves out .git (.dockerignore), so --version names the
# commit given as PIPEAUDIT_BUILD_COMMIT ("unknown" without it).

FROM rust:1.95-alpine AS build
# The C runtime headers for the C parts (ring, mimalloc) and the lld linker;
# only the build stage has them. Their version is the one of the builder's
# Alpine release.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev lld
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY rules ./rules
ARG PIPEAUDIT_BUILD_COMMIT=unknown
ENV PIPEAUDIT_BUILD_COMMIT=${PIPEAUDIT_BUILD_COMMIT}
# Linked by lld, identical functions folded and relative relocations
# packed (DT_RELR, read by musl since 1.2.4), the dependencies' source paths
# without the registry directory (CARGO_HOME is /usr/local/cargo here): a
# smaller binary, as the release workflow builds it.
ENV RUSTFLAGS="-C link-arg=-fuse-ld=lld -C link-arg=-Wl,--icf=all -C link-arg=-Wl,-z,pack-relative-relocs --remap-path-prefix=/usr/local/cargo/registry/src/index.crates.io-1949cf8c6b5b557f=crates"
RUN cargo build --profile dist --features dist --locked \
    && cp target/dist/pipeaudit /pipeaudit \
    && /pipeaudit --version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /pipeaudit /usr/local/bin/pipeaudit
# distroless's "nonroot" user
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/pipeaudit"]
CMD ["--help"]
