# Builds the one `wacrm` binary and ships it on a slim Debian.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p wacrm-api \
 && cp target/release/wacrm /usr/local/bin/wacrm

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/wacrm --create-home wacrm
COPY --from=build /usr/local/bin/wacrm /usr/local/bin/wacrm
USER wacrm
WORKDIR /var/lib/wacrm
ENV WACRM_LISTEN=0.0.0.0:8080 \
    WACRM_DATA_DIR=/var/lib/wacrm \
    WACRM_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["wacrm"]
CMD ["serve"]
