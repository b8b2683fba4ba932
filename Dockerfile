# syntax=docker/dockerfile:1
# Multi-stage build: a static binary on a minimal base, run as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/logengine ./cmd/logengine
# Distroless has no /data and no shell to make one. Without it Docker
# creates the volume's mount point owned by root, a new named volume copies
# that ownership, and the daemon (uid 65532) cannot write its data.
RUN mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0750 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/logengine /usr/local/bin/logengine
COPY data/logengine.example.yaml /etc/logengine/logengine.example.yaml
COPY --from=build --chown=nonroot:nonroot /out/data /data
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
# Without API keys logengine listens on loopback only; in a container give
# keys (LOGENGINE_API_KEYS=name:role:secret,...) to listen on 0.0.0.0.
ENV LOGENGINE_DATA_DIR=/data LOGENGINE_LISTEN=0.0.0.0:8080
# Without --server the check reads the same LOGENGINE_* settings as serve,
# so it follows a changed LOGENGINE_LISTEN and TLS (LOGENGINE_TLS_CERT).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/logengine", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/logengine"]
CMD ["serve"]
