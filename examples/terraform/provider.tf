# The guide's provider.tf, pointed at mks. Nothing here is specific to mks except that the
# endpoint is a URL: the ovh/ovh provider (through go-ovh) uses any endpoint containing "/" as
# the API's base URL, unvalidated.
#
# Endpoint and credentials come from the environment, as the guide recommends:
#   OVH_ENDPOINT            e.g. http://127.0.0.1:8080/1.0 (what `mks serve` prints)
#   OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY
#                           from <data-dir>/ovh.conf, written by `mks serve` on first start
terraform {
  required_providers {
    ovh = {
      source = "ovh/ovh"
    }
  }
}

provider "ovh" {
  # endpoint           = "http://127.0.0.1:8080/1.0"  # or OVH_ENDPOINT
  # application_key    = "<your_access_key>"          # or OVH_APPLICATION_KEY
  # application_secret = "<your_application_secret>"  # or OVH_APPLICATION_SECRET
  # consumer_key       = "<your_consumer_key>"        # or OVH_CONSUMER_KEY
}
