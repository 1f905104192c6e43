# The guide's ovh_kube_cluster.tf, unchanged (GRA5 is one of the regions mks offers by default:
# GET /cloud/project/{serviceName}/capabilities/kube/regions).
resource "ovh_cloud_project_kube" "mycluster" {
  service_name    = var.service_name
  name            = "my_kube_cluster"
  region          = "GRA5"
  kube_proxy_mode = "ipvs" # or "iptables"

  customization_kube_proxy {
    iptables {
      min_sync_period = "PT0S"
      sync_period     = "PT0S"
    }
    ipvs {
      min_sync_period = "PT0S"
      sync_period     = "PT0S"
      scheduler       = "rr"
      tcp_timeout     = "PT0S"
      tcp_fin_timeout = "PT0S"
      udp_timeout     = "PT0S"
    }
  }
}

output "kubeconfig" {
  value     = ovh_cloud_project_kube.mycluster.kubeconfig
  sensitive = true
}
