# The TLS front's image for tests/containers: nginx from Debian's packages on the base image the
# containers phase makes (no registry is reachable, so the nginx image docs name cannot be pulled).
# It serves as tls.yml expects: configuration in /etc/nginx/conf.d/, in the foreground.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
CMD ["nginx", "-g", "daemon off;"]
