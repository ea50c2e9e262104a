# Combine with the bake file oci-stamp writes:
#   oci-stamp collect --format bake --level index,manifest > oci-stamp.json
#   docker buildx bake -f docker-bake.hcl -f oci-stamp.json --print
# The `oci-stamp` target holds `annotations` (with levels) and `labels`; inherit it.

target "oci-stamp" {}

target "default" {
  inherits   = ["oci-stamp"]
  context    = "."
  tags       = ["example/hello:dev"]
  platforms  = ["linux/amd64", "linux/arm64"]
}
