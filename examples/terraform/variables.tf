# The guide's variables.tf. The project id (`mks api GET /cloud/project`) comes from the
# environment: left null here, service_name falls back to the provider's own default,
# OVH_CLOUD_PROJECT_SERVICE. `-var service_name=...` or TF_VAR_service_name work too.
variable "service_name" {
  type    = string
  default = null
}
