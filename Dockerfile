# syntax=docker/dockerfile:1
# Multi-stage build: a static binary on a minimal base, run as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/logengine ./cmd/logengine

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/logengine /usr/local/bin/logengine
COPY data/logengine.example.yaml /etc/logengine/logengine.example.yaml
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
# Without API keys logengine listens on loopback only; in a container give
# keys (LOGENGINE_API_KEYS=name:role:secret,...) to listen on 0.0.0.0.
ENV LOGENGINE_DATA_DIR=/data LOGENGINE_LISTEN=0.0.0.0:8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/logengine", "healthcheck", "--server", "http://127.0.0.1:8080"]
ENTRYPOINT ["/usr/local/bin/logengine"]
CMD ["serve"]
